"""Singer JSON Schema property → Arrow type (and from there Iceberg type, via pyiceberg)."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pyarrow as pa


def property_types(prop: dict[str, Any]) -> list[str]:
    """The JSON types a property admits, with anyOf flattened."""
    if "anyOf" in prop:
        found: list[str] = []
        for option in prop["anyOf"]:
            found.extend(t for t in property_types(option) if t not in found)
        return found
    declared = prop.get("type")
    if declared is None:
        return []
    return [declared] if isinstance(declared, str) else list(declared)


def _first_option(prop: dict[str, Any]) -> dict[str, Any]:
    for option in prop.get("anyOf") or []:
        if property_types(option) != ["null"]:
            return dict(option)
    return prop


def _decimal_type(prop: dict[str, Any]) -> pa.DataType | None:
    step = prop.get("multipleOf")
    if step is None:
        return None
    exponent = Decimal(str(step)).normalize().as_tuple().exponent
    scale = max(0, -int(exponent))
    maximum = prop.get("maximum")
    if maximum is not None and maximum > 0:
        precision = max(scale + 1, math.floor(math.log10(float(maximum))) + 1 + scale)
    else:
        precision = 38
    return pa.decimal128(min(precision, 38), scale)


def arrow_type(prop: dict[str, Any]) -> pa.DataType:
    """Arrow type of one Singer property; nested objects/arrays become JSON text."""
    prop = _first_option(prop)
    types = [t for t in property_types(prop) if t != "null"]
    fmt = prop.get("format")
    if "string" in types and len(types) == 1:
        if fmt == "date-time":
            return pa.timestamp("us", tz="UTC")
        if fmt == "date":
            return pa.date32()
        if fmt == "time":
            return pa.time64("us")
        return pa.string()
    if types == ["integer"]:
        return pa.int64()
    if set(types) <= {"integer", "number"} and types:
        return _decimal_type(prop) or pa.float64()
    if types == ["boolean"]:
        return pa.bool_()
    return pa.string()  # objects, arrays, mixed or untyped values: JSON text


def arrow_schema(schema: dict[str, Any], key_properties: list[str]) -> pa.Schema:
    """Arrow schema of a Singer stream; key properties and required non-null fields are required."""
    required = set(schema.get("required") or ()) | set(key_properties)
    fields = []
    for name, prop in (schema.get("properties") or {}).items():
        nullable = name not in required or "null" in property_types(prop)
        if name in key_properties:
            nullable = False
        fields.append(pa.field(name, arrow_type(prop), nullable=nullable))
    return pa.schema(fields)
