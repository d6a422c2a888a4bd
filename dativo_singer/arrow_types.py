"""Singer JSON Schema ↔ Arrow types (and from Arrow to Iceberg types, through pyiceberg)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pyarrow as pa

from dativo_singer.json_types import effective_property, property_types

NESTED_AS_JSON = "json"
NESTED_AS_STRUCT = "struct"


def _decimal_type(prop: dict[str, Any]) -> pa.DataType | None:
    step = prop.get("multipleOf")
    if step is None:
        return None
    exponent = Decimal(str(step)).normalize().as_tuple().exponent
    scale = max(0, -int(exponent))
    maximum = prop.get("maximum")
    if maximum is not None and maximum > 0:
        # The digits of the maximum as JSON wrote them (99999999999999.98 for numeric(16,2)):
        # a logarithm of the float rounds 15- and 16-digit maxima up to the next power of ten.
        precision = max(scale + 1, Decimal(repr(float(maximum))).adjusted() + 1 + scale)
    else:
        precision = 38
    return pa.decimal128(min(precision, 38), min(scale, 38))


# singer-sdk's decimal-as-string formats (its SQL targets read the first, its taps write the
# second). Such a column is decimal(P, S) when ``precision`` and ``scale`` say so or, as our taps
# write it (singer-sdk keeps only standard keywords in a catalog), its ``pattern`` does.
SINGER_DECIMAL_FORMATS = ("x-singer.decimal", "singer.decimal")
_DECIMAL_PATTERN = re.compile(r"^\^-\?\[0-9\]\{1,(\d+)\}(?:\(\\\.\[0-9\]\{1,(\d+)\}\)\?)?\$$")


def decimal_string_pattern(precision: int, scale: int) -> str:
    """The ``pattern`` of a decimal(P, S) sent as a string: at most P - S integer digits (at
    least one) and S fractional digits, no exponent."""
    fraction = rf"(\.[0-9]{{1,{scale}}})?" if scale else ""
    return rf"^-?[0-9]{{1,{max(precision - scale, 1)}}}{fraction}$"


def _string_decimal_type(prop: dict[str, Any]) -> pa.DataType | None:
    """decimal(P, S) of an ``x-singer.decimal`` string property, None when P and S are unknown."""
    precision, scale = prop.get("precision"), prop.get("scale") or 0
    match = _DECIMAL_PATTERN.match(str(prop.get("pattern") or ""))
    if not isinstance(precision, int) and match:
        scale = int(match.group(2) or 0)
        precision = int(match.group(1)) + scale
    if not isinstance(precision, int) or not isinstance(scale, int):
        return None
    precision = min(precision, 38)
    return pa.decimal128(precision, min(scale, precision))


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _beyond_int64(prop: dict[str, Any]) -> bool:
    """True when an integer's declared bounds admit values that do not fit a long."""
    bounds = [prop.get(k) for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")]
    return any(
        isinstance(b, int | float) and not isinstance(b, bool) and not INT64_MIN <= b <= INT64_MAX
        for b in bounds
    )


def arrow_type(prop: dict[str, Any], nested: str = NESTED_AS_JSON, *, top: bool = True) -> pa.DataType:
    """Arrow type of one Singer property.

    Objects and arrays become JSON text, or (``nested="struct"``) structs and lists when their
    properties/items are declared. Mixed or untyped values are JSON text. Inside structs, dates
    and times stay ISO strings.
    """
    prop = effective_property(prop)
    types = [t for t in property_types(prop) if t != "null"]
    fmt = prop.get("format")
    if types == ["string"] and not top:
        return pa.string()
    if types == ["string"] and fmt in SINGER_DECIMAL_FORMATS:
        decimal = _string_decimal_type(prop)
        if decimal is not None:
            return decimal
    if types == ["string"]:
        return {
            "date-time": pa.timestamp("us", tz="UTC"),
            "date": pa.date32(),
            "time": pa.time64("us"),
        }.get(fmt or "", pa.string())
    if types == ["integer"]:
        return pa.decimal128(38, 0) if _beyond_int64(prop) else pa.int64()
    if types and set(types) <= {"integer", "number"}:
        return _decimal_type(prop) or pa.float64()
    if types == ["boolean"]:
        return pa.bool_()
    if nested == NESTED_AS_STRUCT and types == ["object"] and prop.get("properties"):
        return pa.struct(
            [pa.field(n, arrow_type(sub, nested, top=False)) for n, sub in prop["properties"].items()]
        )
    if nested == NESTED_AS_STRUCT and types == ["array"] and isinstance(prop.get("items"), dict):
        return pa.list_(arrow_type(prop["items"], nested, top=False))
    return pa.string()


def is_promotion(old: pa.DataType, new: pa.DataType) -> bool:
    """Iceberg's type promotions: int → long, float → double, decimal(P, S) → decimal(P2, S)
    with P2 > P (a column of ``old`` may become ``new``; values of ``old`` fit ``new``)."""
    if pa.types.is_int32(old) and pa.types.is_int64(new):
        return True
    if pa.types.is_float32(old) and pa.types.is_float64(new):
        return True
    return (
        pa.types.is_decimal(old)
        and pa.types.is_decimal(new)
        and old.scale == new.scale
        and new.precision > old.precision
    )


JSON_TEXT = "json"  # every non-null value stored as its JSON encoding ("5" as the text "5")
NESTED_TEXT = "nested"  # objects/arrays as JSON text; a string is taken as JSON text already


def json_text_kind(prop: dict[str, Any], arrow: pa.DataType) -> str | None:
    """How a string column holds values that are not plain strings: None for a string
    property, ``NESTED_TEXT`` for objects/arrays (``nested: json``), ``JSON_TEXT`` for mixed
    or untyped properties."""
    if not pa.types.is_string(arrow):
        return None
    types = [t for t in property_types(effective_property(prop)) if t != "null"]
    if types == ["string"]:
        return None
    if types and set(types) <= {"object", "array"}:
        return NESTED_TEXT
    return JSON_TEXT


def is_json_text(prop: dict[str, Any], arrow: pa.DataType) -> bool:
    """True when a string column carries values that are not JSON strings (objects, numbers...)."""
    return json_text_kind(prop, arrow) is not None


def arrow_schema(
    schema: dict[str, Any], key_properties: list[str], nested: str = NESTED_AS_JSON
) -> pa.Schema:
    """Arrow schema of a Singer stream; key properties and required non-null fields are required."""
    required = set(schema.get("required") or ())
    fields = []
    for name, prop in (schema.get("properties") or {}).items():
        nullable = name not in key_properties and (name not in required or "null" in property_types(prop))
        fields.append(pa.field(name, arrow_type(prop, nested), nullable=nullable))
    return pa.schema(fields)


def json_schema_property(arrow: pa.DataType, nullable: bool = True) -> dict[str, Any]:
    """The Singer property of an Arrow type (for taps that read Arrow and emit SCHEMA); the
    inverse of ``arrow_type`` for the types it produces. Unknown types become strings."""
    prop: dict[str, Any]
    if pa.types.is_integer(arrow):
        prop = {"type": ["integer"]}
    elif pa.types.is_decimal(arrow):
        step = "1" if arrow.scale == 0 else f"0.{'0' * (arrow.scale - 1)}1"
        prop = {"type": ["number"], "multipleOf": float(step) if arrow.scale else 1}
        if arrow.precision < 38:
            prop["maximum"] = float(Decimal(10) ** (arrow.precision - arrow.scale) - Decimal(step))
    elif pa.types.is_floating(arrow):
        prop = {"type": ["number"]}
    elif pa.types.is_boolean(arrow):
        prop = {"type": ["boolean"]}
    elif pa.types.is_timestamp(arrow):
        prop = {"type": ["string"], "format": "date-time"}
    elif pa.types.is_date(arrow):
        prop = {"type": ["string"], "format": "date"}
    elif pa.types.is_time(arrow):
        prop = {"type": ["string"], "format": "time"}
    elif pa.types.is_struct(arrow):
        prop = {
            "type": ["object"],
            "properties": {f.name: json_schema_property(f.type, f.nullable) for f in arrow},
        }
    elif pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        prop = {"type": ["array"], "items": json_schema_property(arrow.value_type)}
    else:
        prop = {"type": ["string"]}
    if nullable:
        prop["type"] = [*prop["type"], "null"]
    return prop


def json_schema(schema: pa.Schema) -> dict[str, Any]:
    """The Singer stream schema of an Arrow schema (non-nullable fields are required)."""
    return {
        "type": "object",
        "properties": {f.name: json_schema_property(f.type, f.nullable) for f in schema},
        "required": [f.name for f in schema if not f.nullable],
    }
