"""HubSpot properties: JSON Schema types from the properties API, and the string values HubSpot
sends converted to them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from dativo_singer.text_values import parse_datetime

# HubSpot property type -> JSON Schema (every value may be empty).
PROPERTY_TYPES: dict[str, dict[str, Any]] = {
    "number": {"type": ["number", "null"]},
    "bool": {"type": ["boolean", "null"]},
    "datetime": {"type": ["string", "null"], "format": "date-time"},
    "date": {"type": ["string", "null"], "format": "date"},
}
STRING: dict[str, Any] = {"type": ["string", "null"]}

# Every CRM object carries these beside its properties.
OBJECT_FIELDS: dict[str, Any] = {
    "id": {"type": "string"},
    "createdAt": {"type": ["string", "null"], "format": "date-time"},
    "updatedAt": {"type": ["string", "null"], "format": "date-time"},
    "archived": {"type": ["boolean", "null"]},
}


def property_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a HubSpot property type (strings for enumerations, phone numbers...)."""
    return dict(PROPERTY_TYPES.get(kind, STRING))


def _epoch_ms(text: str) -> datetime | None:
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    return None


def convert(value: Any, kind: str) -> Any:
    """A property value (HubSpot sends strings) as its type; empty values are None.

    A value that does not parse is passed on as sent: the target dead-letters the record with
    the reason rather than the tap dropping it."""
    if value is None or value == "":
        return None
    text = str(value)
    try:
        if kind == "number":
            number = float(text)
            return (
                int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
            )
        if kind == "bool":
            lowered = text.lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            return text
        if kind == "datetime":
            moment = _epoch_ms(text) or parse_datetime(text)
            return moment.isoformat()
        if kind == "date":
            day = _epoch_ms(text)
            return day.date().isoformat() if day else text[:10]
    except ValueError:
        return text
    return text


def to_ms(value: str | datetime) -> int:
    """A timestamp as epoch milliseconds (search filter values)."""
    moment = value if isinstance(value, datetime) else parse_datetime(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)
