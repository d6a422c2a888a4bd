"""MySQLChangeLog: LOG_BASED streams of tap-mysql read from the row-based binlog (docs/CDC.md).

At the start of a run the server is checked (log_bin, binlog_format=ROW, binlog_row_image=FULL,
the REPLICATION CLIENT privilege) and the run's end position fixed (``SHOW MASTER STATUS``).

A snapshot is exactly consistent with a binlog position: ``start_position`` takes
``LOCK TABLES t READ`` on a connection of its own (writers of that table wait, readers do not)
and reads ``SHOW MASTER STATUS``; the stream then reads the table through its usual reader
(connectorx into Parquet on the fast path), and the lock is released when the stream turns to
its changes (``read``), or when the tap exits. Nothing needs confirming afterwards: the server
keeps binlog files by its own retention (``binlog_expire_logs_seconds``), which the run reports
against the bookmark (lag and retained bytes) and checks (a purged bookmark is one line)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pymysql

from dativo_singer.errors import FatalError
from dativo_singer.sql.changes import ChangeWriter, bookmark_of, snapshot_done
from tap_mysql import change_blocks
from tap_mysql.binlog import BinlogPosition, Change, TableChanges, check_server, end_position, retained_files
from tap_mysql.binlog_values import binlog_converters, convert_image
from tap_mysql.table_map_types import Described, signature, table_map_kinds

if TYPE_CHECKING:
    from dativo_singer.sql.connector import DatabaseConnector
    from dativo_singer.sql.stream import DatabaseStream

logger = logging.getLogger(__name__)

# Seconds a snapshot waits for its table's read lock (transactions writing to it must end first).
LOCK_WAIT_SECONDS = 60
# A warning when the server keeps more binlog after a bookmark than this.
LAG_WARNING_BYTES = 1 << 30


class MySQLChangeLog:
    """The binlog of a tap run (``dativo_singer.sql.changes.ChangeLog``)."""

    def __init__(self, connector: DatabaseConnector) -> None:
        self.connector = connector
        url = connector.connection_settings.url
        self.where = f"{url.host}:{url.port or 3306}"
        self.end = BinlogPosition("", 0)
        self._locks: dict[str, pymysql.Connection] = {}

    def settings(self) -> dict[str, Any]:
        """PyMySQL arguments of the tap's connection (TLS included)."""
        url = self.connector.connection_settings.url
        args = {
            "host": url.host,
            "port": int(url.port or 3306),
            "user": url.username,
            "password": str(url.password or ""),
            **self.connector.connect_args(),
        }
        args.pop("charset", None)
        return args

    def connect(self, database: str | None = None) -> pymysql.Connection:
        """An autocommit connection of its own."""
        with self.connector.guarded():
            return pymysql.connect(**self.settings(), database=database, autocommit=True)

    def prepare(self, streams: Sequence[DatabaseStream]) -> None:
        """Server checks and the run's end position; lag and retention of each bookmark."""
        connection = self.connect()
        try:
            self.end = check_server(connection, self.where)
            with connection.cursor() as cursor:
                files = retained_files(cursor)
        finally:
            connection.close()
        for stream in streams:
            if snapshot_done(stream):
                self._report(stream, self._bookmark(stream), files)

    def _report(self, stream: DatabaseStream, position: BinlogPosition, files: list[tuple[str, int]]) -> None:
        """The bookmark's lag (binlog bytes after it) and the binlog the server keeps, as METRIC
        lines; a purged bookmark stops the run."""
        sizes = dict(files)
        if position.file not in sizes:
            raise FatalError(
                f"state: binlog {position.file} of the bookmark of {stream.name} is no longer on "
                f"{self.where} (purged); reset the stream's state to take a new snapshot"
            )
        lag = sum(size for name, size in files if name > position.file) + sizes[position.file] - position.pos
        retained = sum(sizes.values())
        for metric, value in (("binlog_lag_bytes", max(lag, 0)), ("binlog_retained_bytes", retained)):
            logger.info(
                'METRIC: {"type": "gauge", "metric": "%s", "value": %d, "tags": {"stream": "%s"}}',
                metric,
                value,
                stream.name,
            )
        if lag > LAG_WARNING_BYTES:
            logger.warning(
                "%s is %d MB of binlog behind the server: run the job more often", stream.name, lag >> 20
            )

    def _bookmark(self, stream: DatabaseStream) -> BinlogPosition:
        state = bookmark_of(stream)
        position = BinlogPosition.parse(str(state.get("log_position") or ""))
        if int(state.get("replication_key_value") or 0) != position.lsn:
            raise FatalError(
                f"state: replication_key_value and log_position of {stream.name} disagree; "
                "reset the stream's state to take a new snapshot"
            )
        return position

    def start_position(self, stream: DatabaseStream) -> tuple[int, str]:
        """Read-lock the stream's table; the binlog position its rows are now consistent with
        (held until ``read``)."""
        schema, table = stream.location()
        database = schema or str(self.connector.connection_settings.url.database)
        connection = self.connect(database)
        cursor = connection.cursor()
        cursor.execute(f"SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}")
        try:
            cursor.execute(f"LOCK TABLES {self.connector.dialect.table_ref(database, table)} READ")
        except pymysql.err.OperationalError as exc:
            connection.close()
            raise FatalError(
                f"table '{database}.{table}': no snapshot read lock on {self.where} ({exc.args[-1]}); "
                f"the user needs LOCK TABLES, and no transaction may hold the table {LOCK_WAIT_SECONDS} s"
            ) from None
        self._locks[stream.name] = connection
        position = end_position(cursor, self.where)
        logger.info("%s: snapshot consistent with binlog position %s", stream.name, position)
        return position.lsn, str(position)

    def _unlock(self, stream: DatabaseStream) -> None:
        connection = self._locks.pop(stream.name, None)
        if connection is not None:
            with connection.cursor() as cursor:
                cursor.execute("UNLOCK TABLES")
            connection.close()

    def read(self, stream: DatabaseStream, since: int, out: ChangeWriter) -> tuple[int, str]:
        """Write the stream's transactions committed after ``since`` up to the run's end."""
        self._unlock(stream)
        start = self._bookmark(stream)
        if start.lsn != since:
            raise FatalError(f"state: the bookmark of {stream.name} is not {since}")
        last = start
        if start.lsn < self.end.lsn:
            last = self._read(stream, start, out)
        end = max(last, self.end, key=lambda p: p.lsn)
        out.finish(end.lsn, str(end))
        return end.lsn, str(end)

    def _read(self, stream: DatabaseStream, start: BinlogPosition, out: ChangeWriter) -> BinlogPosition:
        schema, table = stream.location()
        database = schema or str(self.connector.connection_settings.url.database)
        converters = binlog_converters(stream.columns)

        def columns(names: list[str]) -> None:  # columns added in the source join the stream
            added = [name for name in names if name not in (stream.schema.get("properties") or {})]
            if added:
                stream.add_log_columns(added)
                out.columns = [name for name in stream.columns if stream.mask[("properties", name)]]
                converters.update(binlog_converters(stream.columns))

        seen: list[tuple[Any, ...]] = [()]

        def types(described: list[Described]) -> None:  # types changed in place (MODIFY) are followed
            facts = signature(described)
            if facts != seen[0]:
                seen[0] = facts
                out.flush_lines()
                stream.follow_log_types(table_map_kinds(stream, described))
                converters.clear()
                converters.update(binlog_converters(stream.columns))

        keys = list(stream.primary_keys or [])
        changes = TableChanges(
            self.settings(),
            database,
            table,
            lambda: self._definitions(database, table),
            self.where,
            columns,
            keys=keys,
            on_types=types,
        )
        last = start
        for transaction in changes.read(start, self.end):
            last = transaction.end
            if transaction.changes:
                out.begin(
                    transaction.end.lsn, dt.datetime.fromtimestamp(transaction.timestamp, dt.timezone.utc)
                )
                if any(change.op == "truncate" for change in transaction.changes):
                    out.truncate()  # a TRUNCATE is a transaction of its own
                else:
                    _write_rows(stream, out, _images(transaction.changes, converters, keys))
            out.commit(transaction.end.lsn, str(transaction.end))
        return last

    def _definitions(self, database: str, table: str) -> list[tuple[str, str, str | None]]:
        """(name, column type, character set) of every column of the table, in table order."""
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                    (database, table),
                )
                return [(str(n), str(t).lower(), c) for n, t, c in cursor.fetchall()]
        finally:
            connection.close()


def _images(
    changes: list[Change], converters: dict[str, Any], keys: list[str]
) -> list[tuple[bool, dict[str, Any]]]:
    """(deleted, row) of each change in log order, values as the snapshot's SELECT gives them; a
    key change as the old key's delete, then the new row."""
    rows: list[tuple[bool, dict[str, Any]]] = []
    for change in changes:
        row = convert_image(change.row, converters) if converters else change.row
        if change.op == "update" and change.before is not None:
            before = convert_image(change.before, converters) if converters else change.before
            if [before.get(key) for key in keys] != [row.get(key) for key in keys]:
                rows.append((True, before))  # the key moved: the old row goes first
        rows.append((change.op == "delete", row))
    return rows


def _write_rows(stream: DatabaseStream, out: ChangeWriter, rows: list[tuple[bool, dict[str, Any]]]) -> None:
    """A transaction's rows as one block of columns on the fast path, else as RECORDs."""
    if out.batches is not None and change_blocks.columnar(stream.columns):
        block = change_blocks.block([row for _, row in rows], stream.columns)
        if block is not None:
            out.add_block(block, pa.array([deleted for deleted, _ in rows], pa.bool_()))
            return
    for deleted, row in rows:
        if deleted:
            out.delete(row)
        else:
            out.upsert(row)
