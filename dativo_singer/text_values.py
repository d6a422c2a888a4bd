"""Typed parsing of text values (CSV cells, Markdown-KV values) according to a JSON Schema property."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from dativo_singer import value_contract as contract
from dativo_singer.json_types import property_types
from dativo_singer.value_contract import parse_datetime as parse_datetime  # the one parser

Converter = Callable[[str], Any]

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def _parse_integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        try:
            as_float = float(text)  # "12.0" is accepted, "12.5" is not
        except ValueError:
            raise ValueError(f"{text!r} is not an integer") from None
        if not as_float.is_integer():
            raise ValueError(f"{text!r} is not an integer") from None
        return int(as_float)


def _parse_number(text: str) -> float | str:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    return contract.float_json(value)  # NaN and ±Infinity as JSON can carry them


def _parse_decimal(text: str) -> Decimal:
    return contract.decimal_value(text)


def _parse_boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (true/false, yes/no, 1/0)")


def _parse_date(text: str) -> str:
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _parse_timestamp(text: str) -> str:
    contract.check_fraction(text)
    try:
        return contract.timestamp_value(text).isoformat()
    except ValueError:
        raise ValueError(f"{text!r} is not a timestamp (ISO 8601)") from None


def _parse_time(text: str) -> str:
    try:
        return dt.time.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise ValueError(f"{text!r} is not a time (HH:MM:SS)") from None


def _parse_string(text: str) -> str:
    return text


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"{text[:40]!r} is not JSON") from None


def converter_for(prop: dict[str, Any]) -> Converter:
    """Return the function turning a CSV cell into the property's JSON value."""
    types = property_types(prop)
    fmt = prop.get("format")
    if "integer" in types:
        return _parse_integer
    if "number" in types:
        return _parse_decimal if "multipleOf" in prop else _parse_number
    if "boolean" in types:
        return _parse_boolean
    if "string" in types and fmt == "date":
        return _parse_date
    if "string" in types and fmt == "date-time":
        return _parse_timestamp
    if "string" in types and fmt == "time":
        return _parse_time
    if "object" in types or "array" in types:
        return _parse_json  # a JSON-encoded cell
    return _parse_string


def is_nullable(prop: dict[str, Any]) -> bool:
    """True when the property admits null (an empty cell becomes null)."""
    return "null" in property_types(prop)
