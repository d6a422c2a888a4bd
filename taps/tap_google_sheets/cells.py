"""Typing Sheets cells by a JSON Schema property.

Values are asked for with ``valueRenderOption=UNFORMATTED_VALUE`` (numbers and booleans as JSON
numbers and booleans) and ``dateTimeRenderOption=FORMATTED_STRING`` (dates as their text), so a
cell is already a number, a boolean or a string; text cells in typed columns go through tap-csv's
parsers, so ``"12"`` in an integer column and ``"2026-01-05"`` in a date column read as in a CSV.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from dativo_singer.json_types import property_types
from dativo_singer.text_values import converter_for

CellConverter = Callable[[Any], Any]


def _number_text(value: int | float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def cell_converter(prop: dict[str, Any]) -> CellConverter:
    """The function turning a cell (number, boolean or string) into the property's JSON value;
    it raises ValueError when the cell cannot be that type."""
    types = property_types(prop)
    parse_text = converter_for(prop)

    def convert(cell: Any) -> Any:
        if isinstance(cell, str):
            return parse_text(cell)
        if isinstance(cell, bool):
            if "boolean" in types:
                return cell
            if "string" in types and not prop.get("format"):
                return "TRUE" if cell else "FALSE"
            raise ValueError(f"{cell!r} is a boolean, not {'/'.join(t for t in types if t != 'null')}")
        if isinstance(cell, int | float):
            if "integer" in types:
                if isinstance(cell, float) and not cell.is_integer():
                    raise ValueError(f"{cell!r} is not an integer")
                return int(cell)
            if "number" in types:
                return Decimal(_number_text(cell)) if "multipleOf" in prop else float(cell)
            if "boolean" in types:
                raise ValueError(f"{cell!r} is a number, not a boolean")
            if "string" in types and prop.get("format") in ("date", "date-time", "time"):
                raise ValueError(f"{cell!r} is a number, not a {prop['format']} (is it a date cell?)")
            return _number_text(cell)
        raise ValueError(f"unexpected cell value {cell!r}")

    return convert


def cell_text(cell: Any) -> str:
    """A cell shown as text (for a column without a schema, or a value passed on as is)."""
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, int | float):
        return _number_text(cell)
    return str(cell)
