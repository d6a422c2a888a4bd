"""The JSON types of a Singer schema property (no Arrow needed: taps without the columnar path use
these too)."""

from __future__ import annotations

from typing import Any


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


def _options(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-null alternatives of a property, ``anyOf`` flattened (a plain property is one)."""
    if "anyOf" in prop:
        return [o for option in prop["anyOf"] for o in _options(option)]
    return [] if property_types(prop) == ["null"] else [prop]


_MERGED_KEYWORDS = ("format", "multipleOf", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def effective_property(prop: dict[str, Any]) -> dict[str, Any]:
    """The one property a column is typed from.

    A single non-null option (``anyOf: [X, null]``) is X, formats and all. Several options are
    merged: their JSON types together, and a keyword (format, multipleOf, bounds) only when every
    option has the same one. So integer + number stays numeric, and options of different JSON
    types become a mixed property (JSON text).
    """
    if "anyOf" not in prop:
        return prop
    options = _options(prop)
    if not options:
        return {}
    if len(options) == 1:
        return dict(options[0])
    types: list[str] = []
    for option in options:
        types.extend(t for t in property_types(option) if t not in types and t != "null")
    merged: dict[str, Any] = {"type": types} if types else {}
    if types:  # an untyped option admits anything: no keyword narrows the column then
        for keyword in _MERGED_KEYWORDS:
            values = [option.get(keyword) for option in options]
            if values[0] is not None and all(v == values[0] for v in values):
                merged[keyword] = values[0]
    return merged if all(property_types(o) for o in options) else {}
