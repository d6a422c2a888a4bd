"""Partition specs from the asset's ``partitioning`` list, and the derived ``ingest_date`` column.

Accepted entries: ``ingest_date`` (a date column filled with the load date, partitioned by
identity), a column name (identity), and the transforms ``year(col)``, ``month(col)``,
``day(col)``, ``hour(col)``, ``bucket(N, col)`` and ``truncate(W, col)``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pyarrow and pyiceberg load when a spec or column is built, not to parse
    import pyarrow as pa
    from pyiceberg.partitioning import PartitionSpec
    from pyiceberg.schema import Schema
    from pyiceberg.transforms import Transform

from dativo_singer.errors import FatalError

INGEST_DATE = "ingest_date"
_CALL = re.compile(r"^(\w+)\(\s*(?:(\d+)\s*,\s*)?(\w+)\s*\)$")
_TIME_TRANSFORMS = ("year", "month", "day", "hour")


@dataclass(frozen=True)
class PartitionField:
    """One partition field: source column, transform, and the partition field name."""

    source: str
    kind: str  # identity, year, month, day, hour, bucket, truncate
    name: str
    number: int | None = None  # buckets of bucket(N, col), width of truncate(W, col)

    @property
    def transform(self) -> Transform:
        """The pyiceberg transform (pyiceberg is imported here, on first use)."""
        from pyiceberg import transforms

        if self.kind == "bucket":
            return transforms.BucketTransform(int(self.number or 0))
        if self.kind == "truncate":
            return transforms.TruncateTransform(int(self.number or 0))
        kinds = {
            "identity": transforms.IdentityTransform,
            "year": transforms.YearTransform,
            "month": transforms.MonthTransform,
            "day": transforms.DayTransform,
            "hour": transforms.HourTransform,
        }
        return kinds[self.kind]()


def parse_partitioning(entries: list[str]) -> list[PartitionField]:
    """Parse the asset's partitioning list; an unknown form is a FatalError naming it."""
    fields = []
    for entry in entries:
        text = entry.strip()
        match = _CALL.match(text)
        if match is None:
            if not re.fullmatch(r"\w+", text):
                raise FatalError(f"partitioning entry {entry!r} is not a column or transform(column)")
            fields.append(PartitionField(text, "identity", text))
            continue
        func, number, column = match.group(1), match.group(2), match.group(3)
        if func in _TIME_TRANSFORMS and number is None:
            fields.append(PartitionField(column, func, f"{column}_{func}"))
        elif func == "bucket" and number:
            fields.append(PartitionField(column, "bucket", f"{column}_bucket", int(number)))
        elif func == "truncate" and number:
            fields.append(PartitionField(column, "truncate", f"{column}_trunc", int(number)))
        else:
            raise FatalError(f"partitioning entry {entry!r}: unknown transform {func!r}")
    return fields


def needs_ingest_date(fields: list[PartitionField]) -> bool:
    """True when the derived ``ingest_date`` column must be added to every batch."""
    return any(f.source == INGEST_DATE for f in fields)


def add_ingest_date(data: pa.Table, day: dt.date) -> pa.Table:
    """Fill the derived ``ingest_date`` column with the load date."""
    import pyarrow as pa

    if INGEST_DATE in data.column_names:
        return data
    return data.append_column(
        pa.field(INGEST_DATE, pa.date32()), pa.array([day] * data.num_rows, pa.date32())
    )


def partition_spec(schema: Schema, fields: list[PartitionField]) -> PartitionSpec:
    """The partition spec of a new table with ``schema``; columns must exist in it."""
    from pyiceberg.partitioning import PARTITION_FIELD_ID_START, UNPARTITIONED_PARTITION_SPEC, PartitionSpec
    from pyiceberg.partitioning import PartitionField as IcebergPartitionField

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
