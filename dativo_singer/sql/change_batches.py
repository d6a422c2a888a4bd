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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from dativo_singer.batch_emit import ParquetBatchWriter
from dativo_singer.sdk_internals import write_batch_message
from dativo_singer.sql.arrow_columns import convert_batch, stream_arrow_schema

if TYPE_CHECKING:
    from dativo_singer.sql.stream import DatabaseStream

UTC_MICROS = pa.timestamp("us", tz="UTC")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


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
        self,
        block: pa.RecordBatch,
        deleted: pa.BooleanArray,
        position: int,
        committed_at: dt.datetime,
        rows: tuple[int, int] | None = None,
    ) -> int:
        """Rows ``rows`` (start, stop; default all) of ``block``, one transaction's (``deleted``
        marks the deletes); how many. Rows that follow the last ones added from the same block
        extend them (a fetch of many small transactions stays one slice)."""
        start, stop = rows or (0, block.num_rows)
        if stop <= start:
            return 0
        micros = (committed_at - EPOCH) // dt.timedelta(microseconds=1)
        last = self._pending[-1] if self._pending else None
        if last is not None and last.parent is block and last.stop == start:
            last.stop = stop
        else:
            last = _Block(block, deleted, start, stop)
            self._pending.append(last)
        last.runs.append((stop - start, position, micros))
        self.rows += stop - start
        return stop - start

    def flush(self) -> None:
        """Write the held blocks as BATCH files (nothing held: nothing written): consecutive
        blocks of one schema converted at once, each such group one file."""
        groups: list[list[_Block]] = []
        for block in self._pending:
            if groups and groups[-1][0].parent.schema.equals(block.parent.schema):
                groups[-1].append(block)
            else:
                groups.append([block])
        self._pending = []
        for group in groups:
            manifest = self.writer.write_files([self._table(group)])
            write_batch_message(self.stream, self.writer.encoding, manifest)

    def _table(self, blocks: list[_Block]) -> pa.Table:
        """The blocks as the stream's Arrow schema plus ``_sdc_lsn`` and ``_sdc_deleted_at``."""
        pieces = [b.parent.slice(b.start, b.stop - b.start) for b in blocks]
        rows = pa.concat_batches(pieces) if len(pieces) > 1 else pieces[0]
        table = convert_batch(rows, self.schema(), self.stream.columns, self.stream.table_label())
        positions: list[int] = []
        stamps: list[int] = []
        for block in blocks:
            for count, position, micros in block.runs:
                positions.extend([position] * count)
                stamps.extend([micros] * count)
        deleted = pa.concat_arrays([b.deleted.slice(b.start, b.stop - b.start) for b in blocks])
        at = pa.array(stamps, pa.int64()).cast(UTC_MICROS)
        deleted_at = pc.if_else(deleted, at, pa.scalar(None, UTC_MICROS))
        table = table.append_column(pa.field("_sdc_lsn", pa.int64()), pa.array(positions, pa.int64()))
        return table.append_column(pa.field("_sdc_deleted_at", UTC_MICROS), deleted_at)


@dataclass
class _Block:
    """Rows ``start`` to ``stop`` of a block, held until the next flush; ``runs`` gives each
    transaction's (row count, position, commit time in microseconds since 1970)."""

    parent: pa.RecordBatch
    deleted: pa.BooleanArray
    start: int
    stop: int
    runs: list[tuple[int, int, int]] = field(default_factory=list)
