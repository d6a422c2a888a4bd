"""``LOG_BASED`` replication of one MySQL/MariaDB table: a consistent snapshot, then the changes
of the row-based binlog, as docs/CDC.md's change records.

The snapshot: ``LOCK TABLES t READ`` on a control connection (writers of that table wait; readers
do not), ``SHOW MASTER STATUS`` gives the position ``P`` the table is consistent with, the rows are
read through the stream's own reader (connectorx into Parquet on the fast path), then the lock is
released. Every snapshot row carries ``_sdc_lsn`` = P. Then the transactions after ``P`` up to the
binlog's end when the run began, one STATE after each transaction that changed the table."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pymysql
from singer_sdk.singerlib import ActivateVersionMessage

from dativo_singer.errors import FatalError
from dativo_singer.sdk_internals import stream_tap, write_record_message
from tap_mysql.binlog import BinlogPosition, Change, TableChanges, check_server, end_position, retained_files
from tap_mysql.binlog_values import binlog_converters, convert_image

if TYPE_CHECKING:
    from tap_mysql.tap import MySQLStream

logger = logging.getLogger(__name__)

LSN = "_sdc_lsn"
DELETED_AT = "_sdc_deleted_at"
LOG_PROPERTIES: dict[str, Any] = {
    LSN: {"type": ["integer", "null"]},
    DELETED_AT: {"type": ["string", "null"], "format": "date-time"},
}
# Seconds a snapshot waits for the table's read lock (open transactions writing to it).
LOCK_WAIT_SECONDS = 60


class LogReader:
    """The log-based read of one stream (its state is the stream's bookmark)."""

    def __init__(self, stream: MySQLStream) -> None:
        self.stream = stream
        self.settings = stream.db.connection_settings
        schema, self.table = stream.location()
        self.schema = schema or str(self.settings.url.database)
        self.where = f"{self.settings.url.host}:{self.settings.url.port or 3306}"
        self.state = stream.get_context_state(None)

    # connections

    def pymysql_settings(self) -> dict[str, Any]:
        """PyMySQL arguments of the tap's connection (TLS included)."""
        url = self.settings.url
        args = {
            "host": url.host,
            "port": int(url.port or 3306),
            "user": url.username,
            "password": str(url.password or ""),
            **self.stream.db.connect_args(),
        }
        args.pop("charset", None)
        return args

    @contextmanager
    def control(self) -> Iterator[pymysql.Connection]:
        """A connection for checks, locks and positions."""
        with self.stream.db.guarded():
            connection = pymysql.connect(**self.pymysql_settings(), database=self.schema, autocommit=True)
        try:
            yield connection
        finally:
            connection.close()

    # the read

    def check(self) -> BinlogPosition:
        """Server settings, privileges and a primary key; the binlog's end now."""
        if not self.stream.primary_keys:
            raise FatalError(
                f"table '{self.schema}.{self.table}' has no primary key: log-based replication applies "
                "each change to one row by its key"
            )
        with self.control() as connection:
            return check_server(connection, self.where)

    def snapshot_done(self) -> bool:
        """Whether the stream's bookmark has a finished snapshot."""
        return bool(self.state.get("snapshot_done")) and bool(self.state.get("log_position"))

    def mark(self, position: BinlogPosition, *, snapshot_done: bool) -> None:
        """The bookmark at ``position`` (docs/CDC.md's STATE shape)."""
        self.state.update(
            replication_key=LSN,
            replication_key_value=position.lsn,
            log_position=str(position),
            snapshot_done=snapshot_done,
        )

    @contextmanager
    def locked_snapshot(self) -> Iterator[BinlogPosition]:
        """The table read-locked, and the binlog position its rows are consistent with."""
        with self.control() as connection, connection.cursor() as cursor:
            cursor.execute(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}")
            quoted = self.stream.db.dialect.table_ref(self.schema, self.table)
            try:
                cursor.execute(f"LOCK TABLES {quoted} READ")
            except pymysql.err.OperationalError as exc:
                raise FatalError(
                    f"table '{self.schema}.{self.table}': cannot take the snapshot's read lock on "
                    f"{self.where} ({exc.args[1]}); the user needs LOCK TABLES, and no transaction may "
                    f"hold the table longer than {LOCK_WAIT_SECONDS} s"
                ) from None
            try:
                position = end_position(cursor, self.where)
                # Any change of the table from now on is after `position` in the binlog.
                self.activate(position)
                self.mark(position, snapshot_done=False)
                yield position
            finally:
                cursor.execute("UNLOCK TABLES")
        logger.info("%s: snapshot consistent with binlog position %s", self.stream.name, position)

    def activate(self, position: BinlogPosition) -> None:
        """ACTIVATE_VERSION before a snapshot: rows of an earlier, unfinished one are gone."""
        stream_tap(self.stream).write_message(
            ActivateVersionMessage(stream=self.stream.name, version=position.lsn)
        )

    def snapshot_columns(self, table: pa.Table, position: BinlogPosition) -> pa.Table:
        """A snapshot batch with ``_sdc_lsn`` = its position and no ``_sdc_deleted_at``."""
        rows = table.num_rows
        table = table.append_column(pa.field(LSN, pa.int64()), pa.array([position.lsn] * rows, pa.int64()))
        return table.append_column(
            pa.field(DELETED_AT, pa.timestamp("us", tz="UTC")), pa.nulls(rows, pa.timestamp("us", tz="UTC"))
        )

    def changes(self, end: BinlogPosition) -> None:
        """The table's changes from the bookmark to ``end``: RECORD (and ACTIVATE_VERSION)
        messages, a STATE after each transaction that changed the table, and one at the end."""
        start = BinlogPosition.parse(self.state["log_position"])
        if start.lsn >= end.lsn:
            self.report(start, end)
            return
        names = self.column_definitions()
        converters = binlog_converters(self.stream.columns)
        keys = list(self.stream.primary_keys or [])
        reader = TableChanges(self.pymysql_settings(), self.schema, self.table, names, self.where)
        emitted = set(self.stream.columns)
        last = start
        for transaction in reader.read(start, end):
            last = transaction.end
            if not transaction.changes:
                continue
            commit = dt.datetime.fromtimestamp(transaction.timestamp, dt.timezone.utc).isoformat()
            for change in transaction.changes:
                self.emit(change, transaction.end, commit, keys, converters, emitted)
            self.mark(transaction.end, snapshot_done=True)
            self.stream.write_state_message()
        self.mark(last, snapshot_done=True)
        self.stream.write_state_message()
        self.report(last, end)

    def emit(
        self,
        change: Change,
        position: BinlogPosition,
        commit: str,
        keys: list[str],
        converters: dict[str, Any],
        emitted: set[str],
    ) -> None:
        """One change as docs/CDC.md's messages."""
        if change.op == "truncate":
            stream_tap(self.stream).write_message(
                ActivateVersionMessage(stream=self.stream.name, version=position.lsn)
            )
            return
        row = self.record(change.row, position, converters, emitted)
        if change.op == "delete":
            row[DELETED_AT] = commit
        elif change.before is not None:
            before = self.record(change.before, position, converters, emitted)
            if any(before.get(key) != row.get(key) for key in keys):  # the key moved: delete the old one
                write_record_message(self.stream, {**before, DELETED_AT: commit})
        write_record_message(self.stream, row)

    def record(
        self, image: dict[str, Any], position: BinlogPosition, converters: dict[str, Any], emitted: set[str]
    ) -> dict[str, Any]:
        """A row image as a RECORD's values: the stream's columns, converted, with ``_sdc_lsn``."""
        row = convert_image({name: image.get(name) for name in emitted}, converters)
        row[LSN] = position.lsn
        row[DELETED_AT] = None
        return row

    def column_definitions(self) -> list[tuple[str, str, str | None]]:
        """(name, column type, character set) of every column of the table, in table order."""
        with self.control() as connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                (self.schema, self.table),
            )
            return [(str(n), str(t).lower(), c) for n, t, c in cursor.fetchall()]

    def report(self, position: BinlogPosition, end: BinlogPosition) -> None:
        """Lag (bytes of binlog after the bookmark) and the binlog the server retains, logged as
        a METRIC line the run summary shows."""
        with self.control() as connection, connection.cursor() as cursor:
            files = retained_files(cursor)
        retained = sum(size for _, size in files)
        lag = sum(size for name, size in files if name > position.file)
        lag += max(0, dict(files).get(position.file, 0) - position.pos)
        logger.info(
            "METRIC: %s",
            json.dumps(
                {
                    "type": "gauge",
                    "metric": "binlog_lag_bytes",
                    "value": lag,
                    "tags": {
                        "stream": self.stream.name,
                        "position": str(position),
                        "retained_bytes": retained,
                    },
                }
            ),
        )
