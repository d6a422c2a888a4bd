"""A change stream's column whose source type changed (docs/CDC.md, "Changed column types"):
the table follows an Iceberg promotion (``table_schema.evolve``); any other change of a column's
type is refused before anything of it is written, in one line naming the table and the column."""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.table import Table

from dativo_singer.arrow_types import is_promotion
from target_iceberg.pyiceberg_internals import iceberg_schema

PROMOTIONS = "int to long, float to double, decimal(P,S) to decimal(P2,S) with P2 > P"


def refused_type_change(table: Table, schema: pa.Schema, identifier: str) -> str | None:
    """Why ``schema`` cannot land in ``table`` (a column whose type is neither the table's, a
    promotion of it, nor a narrower type that promotes to it); None when it can."""
    current = table.schema()
    columns = [f for f in schema if f.name in current.column_names]
    if not columns:
        return None
    incoming = iceberg_schema(pa.schema(columns))  # as the table would type them
    existing = current.as_arrow()
    for field, arrow in zip(incoming.fields, incoming.as_arrow(), strict=True):
        old, new = existing.field(field.name).type, arrow.type
        if old == new or is_promotion(old, new) or is_promotion(new, old):
            continue
        was = current.find_field(field.name).field_type
        return (
            f"table {identifier} column {field.name!r}: the source changed its type from {was} to "
            f"{field.field_type}, not a promotion Iceberg allows ({PROMOTIONS}); change the column "
            "back in the source, or drop the table and reset the stream's state to load it again"
        )
    return None
