"""Partition specs from the asset's ``partitioning`` list, and the derived ``ingest_date`` column.

Accepted entries: ``ingest_date`` (a date column filled with the load date, partitioned by
identity), a column name (identity), and the transforms ``year(col)``, ``month(col)``,
``day(col)``, ``hour(col)``, ``bucket(N, col)`` and ``truncate(W, col)``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.partitioning import PARTITION_FIELD_ID_START, UNPARTITIONED_PARTITION_SPEC, PartitionSpec
from pyiceberg.partitioning import PartitionField as IcebergPartitionField
from pyiceberg.schema import Schema
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    Transform,
    TruncateTransform,
    YearTransform,
)

from dativo_singer.errors import FatalError

INGEST_DATE = "ingest_date"
_CALL = re.compile(r"^(\w+)\(\s*(?:(\d+)\s*,\s*)?(\w+)\s*\)$")
_TIME_TRANSFORMS: dict[str, Callable[[], Transform]] = {
    "year": YearTransform,
    "month": MonthTransform,
    "day": DayTransform,
    "hour": HourTransform,
}


@dataclass(frozen=True)
class PartitionField:
    """One partition field: source column, transform, and the partition field name."""

    source: str
    transform: Transform
    name: str


def parse_partitioning(entries: list[str]) -> list[PartitionField]:
    """Parse the asset's partitioning list; an unknown form is a FatalError naming it."""
    fields = []
    for entry in entries:
        text = entry.strip()
        match = _CALL.match(text)
        if match is None:
            if not re.fullmatch(r"\w+", text):
                raise FatalError(f"partitioning entry {entry!r} is not a column or transform(column)")
            fields.append(PartitionField(text, IdentityTransform(), text))
            continue
        func, number, column = match.group(1), match.group(2), match.group(3)
        if func in _TIME_TRANSFORMS and number is None:
            fields.append(PartitionField(column, _TIME_TRANSFORMS[func](), f"{column}_{func}"))
        elif func == "bucket" and number:
            fields.append(PartitionField(column, BucketTransform(int(number)), f"{column}_bucket"))
        elif func == "truncate" and number:
            fields.append(PartitionField(column, TruncateTransform(int(number)), f"{column}_trunc"))
        else:
            raise FatalError(f"partitioning entry {entry!r}: unknown transform {func!r}")
    return fields


def needs_ingest_date(fields: list[PartitionField]) -> bool:
    """True when the derived ``ingest_date`` column must be added to every batch."""
    return any(f.source == INGEST_DATE for f in fields)


def add_ingest_date(data: pa.Table, day: dt.date) -> pa.Table:
    """Fill the derived ``ingest_date`` column with the load date."""
    if INGEST_DATE in data.column_names:
        return data
    return data.append_column(
        pa.field(INGEST_DATE, pa.date32()), pa.array([day] * data.num_rows, pa.date32())
    )


def partition_spec(schema: Schema, fields: list[PartitionField]) -> PartitionSpec:
    """The partition spec of a new table with ``schema``; columns must exist in it."""
    if not fields:
        return UNPARTITIONED_PARTITION_SPEC
    names = {f.name for f in schema.fields}
    missing = [f.source for f in fields if f.source not in names]
    if missing:
        raise FatalError(f"partition column(s) not in the table schema: {', '.join(missing)}")
    return PartitionSpec(
        *(
            IcebergPartitionField(
                source_id=schema.find_field(f.source).field_id,
                field_id=PARTITION_FIELD_ID_START + position,
                transform=f.transform,
                name=f.name,
            )
            for position, f in enumerate(fields)
        )
    )
