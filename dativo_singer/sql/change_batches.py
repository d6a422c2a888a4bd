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
from dataclasses import dataclass
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
        self._pending: list[_Block] = []
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
        if block.num_rows:
            stamp = pa.scalar(committed_at.astimezone(dt.timezone.utc), UTC_MICROS)
            self._pending.append(_Block(block, deleted, position, stamp))
            self.rows += block.num_rows
        return block.num_rows

    def flush(self) -> None:
        """Write the held blocks as BATCH files (nothing held: nothing written): consecutive
        blocks of one schema converted at once, each such group one file."""
        groups: list[list[_Block]] = []
        for block in self._pending:
            if groups and groups[-1][0].rows.schema.equals(block.rows.schema):
                groups[-1].append(block)
            else:
                groups.append([block])
        self._pending = []
        for group in groups:
            manifest = self.writer.write_files([self._table(group)])
            write_batch_message(self.stream, self.writer.encoding, manifest)

    def _table(self, blocks: list[_Block]) -> pa.Table:
        """The blocks as the stream's Arrow schema plus ``_sdc_lsn`` and ``_sdc_deleted_at``."""
        rows = pa.concat_batches([b.rows for b in blocks]) if len(blocks) > 1 else blocks[0].rows
        table = convert_batch(rows, self.schema(), self.stream.columns, self.stream.table_label())
        lsn = pa.concat_arrays(
            [pa.repeat(pa.scalar(b.position, pa.int64()), b.rows.num_rows) for b in blocks]
        )
        stamps = pa.concat_arrays([pa.repeat(b.stamp, b.rows.num_rows) for b in blocks])
        deleted = pa.concat_arrays([b.deleted for b in blocks])
        deleted_at = pc.if_else(deleted, stamps, pa.scalar(None, UTC_MICROS))
        table = table.append_column(pa.field("_sdc_lsn", pa.int64()), lsn)
        return table.append_column(pa.field("_sdc_deleted_at", UTC_MICROS), deleted_at)


@dataclass
class _Block:
    """Rows of one transaction, held until the next flush."""

    rows: pa.RecordBatch
    deleted: pa.BooleanArray
    position: int
    stamp: pa.Scalar
