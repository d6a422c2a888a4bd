"""RECORD path: a database row's values as the JSON values a Singer RECORD carries.

Applied only to the columns whose driver value is not already what singer-sdk serializes
faithfully (decimals read as text, JSON text, MySQL integers standing for booleans, timestamps
without a zone)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from dativo_singer import value_contract as contract
from dativo_singer.exact_json import loads_exact
from dativo_singer.sql import types as k

Converter = Callable[[Any], Any]


def _decimal(value: Any) -> Decimal | str | None:
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None
    # NaN and ±Infinity have no decimal form: sent as text, which the target rejects (never null)
    return number if number.is_finite() else str(value)


def decimal_text(value: Any) -> str | None:
    """A decimal as a string of plain digits (``x-singer.decimal``): every digit, no exponent;
    NaN and ±Infinity as their text (the target rejects them)."""
    number = _decimal(value)
    return format(number, "f") if isinstance(number, Decimal) else number


def _json(value: Any) -> Any:
    return loads_exact(value) if isinstance(value, str | bytes) else value


def _int_boolean(value: Any) -> bool:
    if isinstance(value, bytes):
        return int.from_bytes(value, "big") != 0
    return int(value) != 0


def _bit(value: Any) -> int:
    return int.from_bytes(value, "big") if isinstance(value, bytes) else int(value)


def _timestamp(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)
    return value


def _float(value: Any) -> Any:
    if isinstance(value, Decimal):  # MySQL DOUBLE may come back as a Decimal
        value = float(value)
    # NaN and ±Infinity as the texts JSON can carry (the value contract's "NaN", "Infinity")
    return contract.float_json(value) if isinstance(value, float) else value


_CONVERTERS: dict[str, Converter] = {
    k.DECIMAL: _decimal,
    k.JSON: _json,
    k.INT_BOOLEAN: _int_boolean,
    k.BIT: _bit,
    k.TIMESTAMP: _timestamp,
    k.TIMESTAMPTZ: _timestamp,
    k.FLOAT: _float,
    k.FLOAT32: _float,
    k.UINT64: int,
}


def record_converters(columns: dict[str, k.ColumnKind]) -> dict[str, Converter]:
    """Column → converter, for the columns that need one."""
    return {
        name: decimal_text if kind.decimal_as_string else _CONVERTERS[kind.kind]
        for name, kind in columns.items()
        if kind.kind in _CONVERTERS
    }


def convert_row(row: dict[str, Any], converters: dict[str, Converter]) -> dict[str, Any]:
    """The row with its values converted (None stays None)."""
    for name, convert in converters.items():
        value = row.get(name)
        if value is not None:
            row[name] = convert(value)
    return row
