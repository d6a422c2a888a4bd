"""LOG_BASED streams of the database taps: the change-record contract of docs/CDC.md.

A stream's catalog entry gains ``_sdc_lsn`` and ``_sdc_deleted_at``; a database's change log
(``ChangeLog``, one per tap: PostgreSQL's slot, MySQL's binlog) reads the changes and hands them
to a ``ChangeWriter``, which writes them as RECORD, ACTIVATE_VERSION and STATE messages: STATE
only between transactions, the bookmark the end of the last transaction written.
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from dativo_singer.exact_json import exact_json
from dativo_singer.sdk_internals import stream_tap, utc_now, write_record_message
from dativo_singer.sql.record_lines import write_lines

if TYPE_CHECKING:
    import pyarrow as pa

    from dativo_singer.sql.change_batches import ChangeBatches
    from dativo_singer.sql.stream import DatabaseStream

LOG_BASED = "LOG_BASED"
SDC_LSN = "_sdc_lsn"
SDC_DELETED_AT = "_sdc_deleted_at"
CHANGE_PROPERTIES: dict[str, dict[str, Any]] = {
    SDC_LSN: {"type": ["integer", "null"]},
    SDC_DELETED_AT: {"type": ["string", "null"], "format": "date-time"},
}
# A STATE between transactions after this many changes or seconds since the last one.
STATE_EVERY_CHANGES = 10_000
STATE_EVERY_SECONDS = 1.0
LINES_PER_WRITE = 10_000


def entry_is_log_based(entry: dict[str, Any]) -> bool:
    """True when a catalog entry asks for LOG_BASED replication (entry or stream metadata)."""
    if str(entry.get("replication_method") or "").upper() == LOG_BASED:
        return True
    for item in entry.get("metadata") or []:
        if not item.get("breadcrumb"):
            meta = item.get("metadata") or {}
            method = meta.get("replication-method") or meta.get("forced-replication-method")
            return str(method or "").upper() == LOG_BASED
    return False


def with_change_columns(catalog: dict[str, Any]) -> dict[str, Any]:
    """The catalog with every LOG_BASED entry given the change columns (selected), the
    replication key ``_sdc_lsn`` and the method on the entry itself."""
    catalog = copy.deepcopy(catalog)
    for entry in catalog.get("streams") or []:
        if not entry_is_log_based(entry):
            continue
        entry["replication_method"] = LOG_BASED
        entry["replication_key"] = SDC_LSN
        properties = entry.setdefault("schema", {}).setdefault("properties", {})
        keys = set(entry.get("key_properties") or [])
        for name, prop in properties.items():  # a delete carries only the key
            types = prop.get("type")
            if name not in keys and isinstance(types, str):
                prop["type"] = [types, "null"]
            elif name not in keys and isinstance(types, list) and "null" not in types:
                prop["type"] = [*types, "null"]
        metadata = entry.setdefault("metadata", [])
        listed = {tuple(item.get("breadcrumb") or ()) for item in metadata}
        for name, prop in CHANGE_PROPERTIES.items():
            properties.setdefault(name, dict(prop))
            if ("properties", name) not in listed:
                metadata.append(
                    {
                        "breadcrumb": ["properties", name],
                        "metadata": {"inclusion": "automatic", "selected": True},
                    }
                )
    return catalog


def is_log_based(stream: DatabaseStream) -> bool:
    """True for a LOG_BASED stream."""
    return str(stream.replication_method).upper() == LOG_BASED


def bookmark_of(stream: DatabaseStream) -> dict[str, Any]:
    """The stream's bookmark (its state dict, changed in place)."""
    return stream.get_context_state(None)


def snapshot_done(stream: DatabaseStream) -> bool:
    """True once the stream's initial read landed (its bookmark then is a log position)."""
    state = bookmark_of(stream)
    return bool(state.get("snapshot_done")) and state.get("replication_key_value") is not None


def set_bookmark(stream: DatabaseStream, position: int, text: str, *, done: bool) -> None:
    """Move the bookmark and write STATE."""
    state = bookmark_of(stream)
    state.pop("progress_markers", None)
    state.update(
        {
            "replication_key": SDC_LSN,
            "replication_key_value": position,
            "log_position": text,
            "snapshot_done": done,
        }
    )
    stream.state_manager.is_flushed = False
    stream.write_state_message()


class ChangeWriter:
    """Writes one stream's changes as messages (docs/CDC.md) and moves its bookmark."""

    def __init__(
        self,
        stream: DatabaseStream,
        convert: Callable[[dict[str, Any]], dict[str, Any]],
        batches: ChangeBatches | None = None,
    ) -> None:
        self.stream = stream
        self.convert = convert
        # The fast path: blocks of rows as Arrow columns (``add_block``) go as BATCH files.
        self.batches = batches
        self.columns = [name for name in stream.columns if stream.mask[("properties", name)]]
        self._position = 0
        self._committed_at = dt.datetime.now(dt.timezone.utc)
        self._deleted_at: str | None = None
        self._since_state = 0
        self._last_state = time.monotonic()
        self.changes = 0
        # Without stream maps, flattening or column policies, RECORD lines are made here in
        # bulk (as the bulk RECORD path does), else by singer-sdk's per-record steps.
        self._lines: list[bytes] | None = [] if stream.per_record_reason() is None else None
        self._prefix = b'{"type":"RECORD","stream":' + exact_json(stream.name) + b',"record":'

    def begin(self, position: int, committed_at: dt.datetime) -> None:
        """A transaction that commits at ``position`` (``_sdc_lsn`` of its changes)."""
        self._position = position
        self._committed_at = committed_at
        self._deleted_at = committed_at.astimezone(dt.timezone.utc).isoformat()

    def add_block(self, block: pa.RecordBatch, deleted: pa.BooleanArray) -> None:
        """Rows of the current transaction as Arrow columns in the driver's types (the fast
        path, ``batches`` set): the selected columns, ``deleted`` marking the deletes."""
        assert self.batches is not None
        if self._lines:
            self.flush_lines()  # RECORD lines before go first
        added = self.batches.add(block, deleted, self._position, self._committed_at)
        self.changes += added
        self._since_state += added

    def _write(self, row: dict[str, Any], deleted: bool) -> None:
        if self.batches is not None:
            self.batches.flush()  # the blocks before go first
        record = {name: row.get(name) for name in self.columns}
        record = self.convert(record)
        record[SDC_LSN] = self._position
        record[SDC_DELETED_AT] = self._deleted_at if deleted else None
        self.changes += 1
        self._since_state += 1
        lines = self._lines
        if lines is None:
            write_record_message(self.stream, record)
            return
        extracted = utc_now().isoformat().encode()
        lines.append(self._prefix + exact_json(record) + b',"time_extracted":"' + extracted + b'"}\n')
        if len(lines) >= LINES_PER_WRITE:
            self.flush_lines()

    def flush_lines(self) -> None:
        """Write the RECORD lines and BATCH files made so far (before any other message)."""
        if self.batches is not None:
            self.batches.flush()
        if self._lines:
            write_lines(memoryview(b"".join(self._lines)))
            self._lines.clear()
            self.stream.state_manager.is_flushed = False

    def upsert(self, row: dict[str, Any]) -> None:
        """An inserted or updated row (the whole row)."""
        self._write(row, deleted=False)

    def delete(self, row: dict[str, Any]) -> None:
        """A deleted row: its key (and what else the log holds of it)."""
        self._write(row, deleted=True)

    def truncate(self) -> None:
        """The table was emptied: ACTIVATE_VERSION with the transaction's position."""
        self.flush_lines()
        write_truncate(self.stream, self._position)
        self._since_state += 1

    def commit(self, end: int, text: str) -> None:
        """A transaction ended at ``end``: STATE when enough changes or time passed."""
        if (
            self._since_state >= STATE_EVERY_CHANGES
            or time.monotonic() - self._last_state >= STATE_EVERY_SECONDS
        ):
            self.finish(end, text)

    def finish(self, end: int, text: str) -> None:
        """STATE with the bookmark at ``end`` (the end of the read, or of the last transaction)."""
        self.flush_lines()
        set_bookmark(self.stream, end, text, done=True)
        self._since_state, self._last_state = 0, time.monotonic()


def write_truncate(stream: DatabaseStream, version: int) -> None:
    """ACTIVATE_VERSION: what the target holds of the stream before it is gone."""
    from singer_sdk.singerlib import ActivateVersionMessage

    stream_tap(stream).write_message(ActivateVersionMessage(stream=stream.name, version=version))


class ChangeLog(Protocol):
    """A database's change log as the taps read it (PostgreSQL: ``tap_postgres.log_reader``)."""

    def prepare(self, streams: Sequence[DatabaseStream]) -> None:
        """Check the server and settings, make the log's reader (slot) ready and confirm the log
        up to the oldest bookmark of ``streams``; fix the run's end position."""

    def start_position(self, stream: DatabaseStream) -> tuple[int, str]:
        """The position a snapshot read now is consistent from (changes after it follow)."""
        ...

    def read(self, stream: DatabaseStream, since: int, out: ChangeWriter) -> tuple[int, str]:
        """Write the stream's changes after ``since`` up to the run's end position; return it."""
        ...
