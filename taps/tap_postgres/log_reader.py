"""PostgresChangeLog: LOG_BASED streams read from a logical replication slot (``pgoutput``).

One slot and one publication per tap run (settings ``replication_slot`` and ``publication``),
created when missing (the publication first, so the slot's changes can be filtered by it). At
the start of a run the slot is confirmed up to the oldest bookmark of the streams (what the
target committed), never further, and the run's end position is fixed; each stream then peeks
the slot up to it. Values arrive as text and are read by psycopg2's own type casters, so a
change carries the values a SELECT through psycopg2 would (the RECORD path's).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg2
import psycopg2.extensions
import pyarrow as pa

from dativo_singer.errors import FatalError
from dativo_singer.sdk_internals import connector_engine
from dativo_singer.sql import types as k
from dativo_singer.sql.changes import ChangeWriter, bookmark_of, snapshot_done
from tap_postgres import change_columns, wal
from tap_postgres.pgoutput import UNCHANGED, Begin, Commit, Relation, RowChange, Truncate, decode, lsn_text
from tap_postgres.pgoutput_columns import Columns, Decoded, decode_run
from tap_postgres.relation_types import relation_kinds
from tap_postgres.slot_defaults import DEFAULT_LAG_WARNING_BYTES, DEFAULT_PUBLICATION, DEFAULT_SLOT

if TYPE_CHECKING:
    from dativo_singer.sql.connector import DatabaseConnector
    from dativo_singer.sql.stream import DatabaseStream

logger = logging.getLogger(__name__)

# Kinds whose SELECT reads the column as text (``dialect.select_expression``): kept as the log has them.
_TEXT_KINDS = (k.JSON, k.UUID, k.UNMAPPED, k.DECIMAL, k.DECIMAL_TEXT, k.STRING)
_OTHER_TAGS = re.compile(b"[^IUD]")  # messages other than row changes


@dataclass
class _Decoded:
    """A decoded run and its columns cast per kind (None: a value did not cast)."""

    run: Decoded
    typed: pa.RecordBatch | None


class PostgresChangeLog:
    """The slot and publication of a tap run (``dativo_singer.sql.changes.ChangeLog``)."""

    def __init__(self, connector: DatabaseConnector) -> None:
        config = connector.config
        self.connector = connector
        self.slot = str(config.get("replication_slot") or DEFAULT_SLOT)
        self.publication = str(config.get("publication") or DEFAULT_PUBLICATION)
        self.lag_warning = int(config.get("slot_lag_warning_bytes") or DEFAULT_LAG_WARNING_BYTES)
        self.end = 0
        self.position: wal.SlotPosition | None = None
        self._connection: Any = None

    def connection(self, *, autocommit: bool = True) -> Any:
        """A psycopg2 connection of its own (not the engine's pool), with the tap's settings."""
        engine = connector_engine(self.connector)
        args, params = engine.dialect.create_connect_args(engine.url)
        raw = psycopg2.connect(*args, **{**params, **self.connector.connect_args()})
        raw.autocommit = autocommit
        return raw

    @property
    def admin(self) -> Any:
        """The run's autocommit connection."""
        if self._connection is None:
            self._connection = self.connection()
        return self._connection

    def prepare(self, streams: Sequence[DatabaseStream]) -> None:
        """Server checks, publication, slot; confirm the slot up to the oldest bookmark."""
        with self.connector.guarded():
            wal.check_server(self.admin)
            tables = [(s.location()[0] or "public", s.location()[1]) for s in streams]
            wal.ensure_publication(self.admin, self.publication, tables)
            if wal.ensure_slot(self.admin, self.slot):
                logger.info("Created replication slot %s (pgoutput)", self.slot)
            before = wal.slot_position(self.admin, self.slot)
            done = [s for s in streams if snapshot_done(s)]
            for stream in done:
                position = int(bookmark_of(stream)["replication_key_value"])
                if position < before.confirmed:
                    raise FatalError(
                        f"replication_slot: slot {self.slot!r} is at {lsn_text(before.confirmed)}, past "
                        f"the bookmark {lsn_text(position)} of {stream.name}: the changes in between are "
                        "gone (slot dropped or read by another job); reset the state to read the table again"
                    )
            if done and len(done) == len(streams):
                wal.advance_slot(
                    self.admin, self.slot, min(int(bookmark_of(s)["replication_key_value"]) for s in done)
                )
            self.position = wal.slot_position(self.admin, self.slot)
            self.end = wal.read_end(self.admin)
        self._report(self.position)

    def _report(self, position: wal.SlotPosition) -> None:
        """The slot's lag and retained WAL as METRIC lines; a warning past the threshold."""
        for metric, value in (
            ("slot_lag_bytes", position.lag_bytes),
            ("slot_retained_wal_bytes", position.retained_bytes),
        ):
            logger.info(
                'METRIC: {"type": "gauge", "metric": "%s", "value": %d, "tags": {"slot": "%s"}}',
                metric,
                value,
                self.slot,
            )
        if position.retained_bytes > self.lag_warning:
            logger.warning(
                "replication slot %s retains %d MB of WAL on the server (over slot_lag_warning_bytes): "
                "run the job more often, or drop the slot if the job is gone",
                self.slot,
                position.retained_bytes >> 20,
            )

    def start_position(self, stream: DatabaseStream) -> tuple[int, str]:
        """The slot's confirmed position: a snapshot read after it, merged with the changes
        after it, gives the table as of the end of the read (docs/CDC.md)."""
        assert self.position is not None
        return self.position.confirmed, lsn_text(self.position.confirmed)

    def read(self, stream: DatabaseStream, since: int, out: ChangeWriter) -> tuple[int, str]:
        """Write the stream's changes committed after ``since`` up to the run's end. On the fast
        path (``out.batches``) the row changes of each fetch are decoded at once into columns
        (``change_columns``), then written transaction by transaction in log order."""
        connection = self.connection(autocommit=False)
        reader = _Replay(stream, _RowDecoder(stream, connection), out, since)
        try:
            with self.connector.guarded():
                for chunk in wal.peek_changes(connection, self.slot, self.publication, self.end):
                    reader.chunk(chunk)
        finally:
            connection.rollback()
            connection.close()
        end = max(self.end, since)
        out.finish(end, lsn_text(end))
        return end, lsn_text(end)

    def close(self) -> None:
        """Close the run's connection."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class _RowDecoder:
    """The log's text values of one table as the stream's record values."""

    def __init__(self, stream: DatabaseStream, connection: Any) -> None:
        self.stream = stream
        self.cursor = connection.cursor()
        self.names: list[str] = []
        self.keys: list[str] = []
        self.casts: list[Callable[[Any], Any]] = []
        self._columnar: bool | None = None

    def relation(self, relation: Relation, out: ChangeWriter) -> None:
        """The table's columns as the log has them now (new ones are added to the stream, changed
        types followed)."""
        self.names = [name for name, _ in relation.columns]
        self.keys = list(self.stream.primary_keys or relation.key_columns)
        added = [name for name in self.names if name not in self.stream.columns]
        if added:
            out.flush_lines()  # the rows before the new SCHEMA go first
            self.stream.add_log_columns(added)
            out.columns = [name for name in self.stream.columns if self.stream.mask[("properties", name)]]
        out.flush_lines()  # a changed column type writes a SCHEMA: the rows before it go first
        self.stream.follow_log_types(relation_kinds(self.stream, relation))
        self.casts = [self._cast(name, oid) for name, oid in relation.columns]
        self._columnar = None

    def columnar(self, out: ChangeWriter) -> bool:
        """True when the changes go as columns: the fast path, every column's kind castable."""
        if self._columnar is None:
            self._columnar = out.batches is not None and change_columns.columnar(self.stream.columns)
        return self._columnar

    def decode(self, run: list[bytes], relid: int) -> _Decoded:
        """A fetch's row changes decoded into columns at once, cast per column (None when a
        value does not cast: its rows are written the RECORD way)."""
        decoded = decode_run(run, relid, len(self.names))
        kinds = self.stream.columns
        return _Decoded(decoded, change_columns.typed(decoded.columns, self.names, kinds, list(kinds)))

    def write(self, decoded: _Decoded, low: int, high: int, out: ChangeWriter) -> None:
        """The rows of messages ``low`` to ``high`` of the decoded run (one transaction's)."""
        kinds = self.stream.columns
        for part in decoded.run.parts(low, high):
            if isinstance(part, bytes):
                label = self.stream.table_label()
                columns = change_columns.decode_one_by_one([part], self.names, self.keys, label)
                block = change_columns.typed(columns, self.names, kinds, list(kinds))
                self._write(columns, block, 0, columns.num_rows, out)
            else:
                self._write(decoded.run.columns, decoded.typed, part[0], part[1], out)

    def _write(
        self, columns: Columns, block: pa.RecordBatch | None, start: int, stop: int, out: ChangeWriter
    ) -> None:
        if block is not None:
            out.add_block(block, columns.deleted, (start, stop))
            return
        for deleted, values in change_columns.text_rows(columns, start, stop):
            row = self.row(values)
            out.delete(row) if deleted else out.upsert(row)

    def _cast(self, name: str, oid: int) -> Callable[[Any], Any]:
        kind = self.stream.columns.get(name)
        if kind is not None and kind.kind in _TEXT_KINDS:
            return lambda text: text
        if kind is not None and kind.kind == k.BINARY:
            return lambda text: text[2:] if text.startswith("\\x") else text
        caster = psycopg2.extensions.string_types.get(oid)
        if caster is None:
            return lambda text: text
        cursor = self.cursor
        return lambda text: caster(text, cursor)

    def row(self, values: list[Any], fallback: list[Any] | None = None) -> dict[str, Any]:
        """Column name → value; an unchanged TOASTed value taken from ``fallback`` (the old row)."""
        row: dict[str, Any] = {}
        for index, (name, value, cast) in enumerate(zip(self.names, values, self.casts, strict=False)):
            if value is UNCHANGED:
                old = fallback[index] if fallback is not None and index < len(fallback) else UNCHANGED
                if old is UNCHANGED:
                    table = self.stream.table_label()
                    raise FatalError(
                        f"{table}: column {name!r} holds a large (TOASTed) value an update left unchanged, "
                        f"which the log does not carry; ALTER TABLE {table} REPLICA IDENTITY FULL"
                    )
                value = old
            row[name] = None if value is None else cast(value)
        return row

    def apply(self, change: RowChange, out: ChangeWriter) -> None:
        """Write one row change (a key change as a delete and an insert)."""
        if change.op == "delete":
            assert change.old is not None
            out.delete(self.row(change.old))
            return
        assert change.new is not None
        new = self.row(change.new, change.old)
        if change.op == "update" and change.old is not None:
            old = self.row(change.old)
            if any(old.get(key) != new.get(key) for key in self.keys if old.get(key) is not None):
                out.delete(old)
        out.upsert(new)


class _Replay:
    """The messages of the slot, in order, for one stream: row changes gathered per fetch and
    decoded at once on the fast path (``drain``), the others acted on in their place."""

    def __init__(self, stream: DatabaseStream, decoder: _RowDecoder, out: ChangeWriter, since: int) -> None:
        schema, table = stream.location()
        self.table = (schema or "public", table)
        self.decoder, self.out, self.since = decoder, out, since
        self.relid, self.skip = -1, True
        self.run: list[bytes] = []  # row changes not decoded yet
        self.pending: list[Any] = []  # what comes with them, in order: messages and [low, high) of run

    def chunk(self, messages: list[bytes]) -> None:
        """A fetch of the slot's messages: row changes a stretch at a time (the others are few:
        a transaction's start and end, relations, truncates), then ``drain``."""
        tags = bytes(data[0] for data in messages)
        start = 0
        for found in _OTHER_TAGS.finditer(tags):
            self.rows(messages, start, found.start())
            self.message(messages[found.start()])
            start = found.start() + 1
        self.rows(messages, start, len(messages))
        self.drain()

    def rows(self, messages: list[bytes], start: int, stop: int) -> None:
        """Row changes ``start`` to ``stop`` of ``messages`` (one transaction's)."""
        if self.skip or stop <= start:
            return
        if not self.decoder.columnar(self.out):
            for data in messages[start:stop]:
                change = decode(data)
                if isinstance(change, RowChange) and change.relid == self.relid:
                    self.decoder.apply(change, self.out)
            return
        last = self.pending[-1] if self.pending else None
        if isinstance(last, list):
            last[1] += stop - start
        else:
            self.pending.append([len(self.run), len(self.run) + stop - start])
        self.run.extend(messages[start:stop])

    def message(self, data: bytes) -> None:
        """One message of the slot other than a row change."""
        message = decode(data)
        if isinstance(message, Begin):
            self.skip = message.commit_lsn < self.since
            if self.pending:
                self.pending.append(message)
            else:
                self.act(message)
            return
        if isinstance(message, Relation):
            if (message.schema, message.name) != self.table:
                return
            self.drain()  # the rows before it are decoded with the columns they had
            self.relid = message.relid
            self.decoder.relation(message, self.out)
            return
        if self.skip or not isinstance(message, Truncate | Commit):
            return
        if isinstance(message, Truncate) and self.relid not in message.relids:
            return
        if self.pending:
            self.pending.append(message)
        else:
            self.act(message)

    def act(self, message: Any) -> None:
        """A transaction's start or end, or a truncate of the table."""
        if isinstance(message, Begin):
            self.out.begin(message.commit_lsn, message.committed_at)
        elif isinstance(message, Truncate):
            self.out.truncate()
        elif isinstance(message, Commit):
            self.out.commit(message.end_lsn, lsn_text(message.end_lsn))

    def drain(self) -> None:
        """Decode the gathered row changes at once, then write everything pending in order."""
        if not self.pending:
            return
        decoded = self.decoder.decode(self.run, self.relid)
        for item in self.pending:
            if isinstance(item, list):
                self.decoder.write(decoded, item[0], item[1], self.out)
            else:
                self.act(item)
        self.run, self.pending = [], []
