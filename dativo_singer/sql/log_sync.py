"""One LOG_BASED stream's run (docs/CDC.md): the initial snapshot when the bookmark has none
finished, then the changes after the bookmark, up to the run's end position.

The snapshot goes through the stream's own read (Parquet BATCH files on the fast path, RECORD
messages otherwise) with ``_sdc_lsn`` set to the position it is consistent from; its STATE
messages say ``snapshot_done: false`` until the last one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dativo_singer.batch_emit import ParquetBatchWriter
from dativo_singer.sdk_internals import stream_tap, write_record_message
from dativo_singer.sql.change_batches import ChangeBatches
from dativo_singer.sql.changes import (
    SDC_DELETED_AT,
    SDC_LSN,
    ChangeLog,
    ChangeWriter,
    bookmark_of,
    set_bookmark,
    snapshot_done,
    write_truncate,
)
from dativo_singer.sql.values import convert_row, record_converters

if TYPE_CHECKING:
    from dativo_singer.sql.stream import DatabaseStream


def change_log(stream: DatabaseStream) -> ChangeLog:
    """The tap's change log (made ready in ``prepare_sync``)."""
    log = getattr(stream_tap(stream), "change_log", None)
    assert log is not None, "prepare_sync makes the change log ready"
    return log


def snapshot_position(stream: DatabaseStream) -> int | None:
    """The position a snapshot in progress (or about to start) is consistent from."""
    if snapshot_done(stream):
        return None
    position, text = change_log(stream).start_position(stream)
    state = bookmark_of(stream)
    state.update({"replication_key": SDC_LSN, "snapshot_done": False, "log_position": text})
    state.pop("replication_key_value", None)
    write_truncate(stream, position)  # the snapshot replaces what the target holds
    return position


def with_change_columns(table: pa.Table, position: int) -> pa.Table:
    """A snapshot piece with ``_sdc_lsn`` = ``position`` and no ``_sdc_deleted_at``."""
    rows = table.num_rows
    table = table.append_column(pa.field(SDC_LSN, pa.int64()), pa.array([position] * rows, pa.int64()))
    return table.append_column(
        pa.field(SDC_DELETED_AT, pa.timestamp("us", tz="UTC")), pa.nulls(rows, pa.timestamp("us", tz="UTC"))
    )


def snapshot_pieces(stream: DatabaseStream, pieces: Iterator[pa.Table], position: int) -> Iterator[pa.Table]:
    """Fast path: the snapshot's files with the change columns."""
    for piece in pieces:
        yield with_change_columns(piece, position)


def snapshot_records(stream: DatabaseStream, position: int) -> None:
    """RECORD path: the snapshot's rows, a STATE every ``STATE_MSG_FREQUENCY`` rows."""
    for sent, record in enumerate(stream.get_records(None), start=1):
        record[SDC_LSN] = position
        record[SDC_DELETED_AT] = None
        write_record_message(stream, record)
        if sent % stream.STATE_MSG_FREQUENCY == 0:
            stream.write_state_message()


def finish_snapshot(stream: DatabaseStream, position: int) -> None:
    """The snapshot landed: the bookmark is its position."""
    text = str(bookmark_of(stream).get("log_position") or "")
    set_bookmark(stream, position, text, done=True)


def read_changes(stream: DatabaseStream, batch_writer: ParquetBatchWriter | None = None) -> int:
    """The changes after the stream's bookmark, as messages (given ``batch_writer``, the log
    reader may write blocks of them as BATCH files); how many."""
    converters: dict[str, Any] = {}
    known = [-1]  # the columns the converters were made for (a change may add or retype columns)

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        if known[0] != stream.columns_version:
            converters.clear()
            converters.update(record_converters(stream.columns))
            known[0] = stream.columns_version
        return convert_row(row, converters)

    batches = ChangeBatches(stream, batch_writer) if batch_writer is not None else None
    writer = ChangeWriter(stream, convert, batches)
    since = int(bookmark_of(stream)["replication_key_value"])
    change_log(stream).read(stream, since, writer)
    return writer.changes
