"""Change rows on the fast path (docs/CDC.md): Arrow blocks → Parquet BATCH files, in log order.

A log reader hands a ``ChangeWriter`` blocks of rows as Arrow columns in the types its driver
gives for the snapshot (``add``: the rows of one transaction, which of them are deletes). Each
block is converted as the snapshot's files are (``arrow_columns.convert_batch``), given
``_sdc_lsn`` (the transaction's position) and ``_sdc_deleted_at`` (its commit time on deletes),
and held until the writer's next STATE, ACTIVATE_VERSION or SCHEMA: then the held blocks are one
Parquet file (column policies applied by the batch writer) announced by one BATCH message,
so a file never spans a STATE and the target reads its rows in file order.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from dativo_singer.batch_emit import ParquetBatchWriter
from dativo_singer.sdk_internals import write_batch_message
from dativo_singer.sql.arrow_columns import convert_batch, stream_arrow_schema

if TYPE_CHECKING:
    from dativo_singer.sql.stream import DatabaseStream

UTC_MICROS = pa.timestamp("us", tz="UTC")


class ChangeBatches:
    """One stream's change blocks, written as Parquet BATCH files when flushed."""

    def __init__(self, stream: DatabaseStream, writer: ParquetBatchWriter) -> None:
        self.stream = stream
        self.writer = writer
        self._pending: list[pa.Table] = []
        self._schema: pa.Schema | None = None
        self._columns = 0
        self.rows = 0

    def schema(self) -> pa.Schema:
        """The Arrow schema of the stream's selected columns (made again when columns are added)."""
        if self._schema is None or self._columns != len(self.stream.columns):
            properties = self.stream.schema.get("properties") or {}
            self._schema = stream_arrow_schema(properties, self.stream.columns)
            self._columns = len(self.stream.columns)
        return self._schema

    def add(
        self, block: pa.RecordBatch, deleted: pa.BooleanArray, position: int, committed_at: dt.datetime
    ) -> int:
        """Rows of one transaction (``deleted`` marks the deletes); how many."""
        rows = block.num_rows
        if not rows:
            return 0
        table = convert_batch(block, self.schema(), self.stream.columns, self.stream.table_label())
        lsn = pa.repeat(pa.scalar(position, pa.int64()), rows)
        stamp = pa.scalar(committed_at.astimezone(dt.timezone.utc), UTC_MICROS)
        deleted_at = pc.if_else(deleted, stamp, pa.scalar(None, UTC_MICROS))
        table = table.append_column(pa.field("_sdc_lsn", pa.int64()), lsn)
        table = table.append_column(pa.field("_sdc_deleted_at", UTC_MICROS), deleted_at)
        self._pending.append(table)
        self.rows += rows
        return rows

    def flush(self) -> None:
        """Write the held blocks as BATCH files (nothing held: nothing written)."""
        if not self._pending:
            return
        tables = _one_schema(self._pending)
        self._pending = []
        for table in tables:
            manifest = self.writer.write_files([table])
            write_batch_message(self.stream, self.writer.encoding, manifest)


def _one_schema(tables: list[pa.Table]) -> list[pa.Table]:
    """Consecutive tables of the same schema concatenated (a column that fell back to text, or
    one added mid-run, starts another file)."""
    groups: list[list[pa.Table]] = []
    for table in tables:
        if groups and groups[-1][0].schema.equals(table.schema):
            groups[-1].append(table)
        else:
            groups.append([table])
    return [pa.concat_tables(group) if len(group) > 1 else group[0] for group in groups]
