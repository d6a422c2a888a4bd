"""A source column whose type changed: which property its stream then declares (docs/CDC.md,
"Changed column types").

A type the declared one promotes to (Iceberg's promotions: int → long, float → double, a
decimal's precision grown at the same scale; an integer's wider bounds) is declared instead, at
the start of a run as in the change log. In the change log, a change no promotion covers (an
integer become text, a decimal's scale changed) is declared as the source's new type, so the
target decides (target-iceberg refuses it); a narrower type keeps the declared one (its values
fit). A catalog that declares a column as another type than the database's keeps its own.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from dativo_singer.arrow_types import arrow_type, is_promotion
from dativo_singer.json_types import property_types
from dativo_singer.sql import types as k
from dativo_singer.sql.types import ColumnKind

# Kinds whose type changes are followed: numbers and plain text (not ENUM/SET, JSON, dates...).
_FOLLOWED = (k.INT, k.UINT64, k.FLOAT, k.FLOAT32, k.DECIMAL, k.DECIMAL_TEXT, k.STRING)


def followed(kind: ColumnKind) -> bool:
    """True for a kind whose type changes in the change log are followed."""
    return kind.kind in _FOLLOWED and not kind.type_text.startswith(("enum", "set("))


def _as_nullable_as(prop: dict[str, Any], declared: dict[str, Any]) -> dict[str, Any]:
    """``prop`` nullable when ``declared`` is."""
    if "null" not in property_types(declared) or "type" not in prop:
        return prop
    types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    return {**prop, "type": [*types, "null"]}


def _bounds_wider(declared: dict[str, Any], kind: ColumnKind) -> bool:
    """True when the kind admits integers the declared bounds exclude."""
    low, high = declared.get("minimum"), declared.get("maximum")
    return (low is not None and (kind.minimum is None or kind.minimum < low)) or (
        high is not None and (kind.maximum is None or kind.maximum > high)
    )


def wider_property(declared: dict[str, Any], kind: ColumnKind) -> dict[str, Any] | None:
    """The property of ``kind`` when it promotes the ``declared`` one (None: keep it)."""
    new = kind.json_schema()
    old_type, new_type = arrow_type(declared), arrow_type(new)
    if is_promotion(old_type, new_type) or (
        old_type == new_type and pa.types.is_integer(old_type) and _bounds_wider(declared, kind)
    ):
        return _as_nullable_as(new, declared)
    return None


def retyped_property(declared: dict[str, Any], old: ColumnKind, new: ColumnKind) -> dict[str, Any] | None:
    """The property a column declared ``declared`` gets when the change log shows its type
    changed from ``old`` to ``new``; None when the declared one stays."""
    if arrow_type(declared) != arrow_type(old.json_schema()):
        return None  # the catalog declares a type of its own for the column
    wider = wider_property(declared, new)
    if wider is not None:
        return wider
    declared_type, new_type = arrow_type(declared), arrow_type(new.json_schema())
    if declared_type == new_type or is_promotion(new_type, declared_type):
        return None  # the same or a narrower type: its values fit the declared one
    return _as_nullable_as(new.json_schema(), declared)
