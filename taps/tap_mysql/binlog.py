"""The row-based binlog of MySQL 8 / MariaDB 10.11: positions, the server checks, and one table's
changes read as whole transactions (pymysqlreplication, file/position protocol).

A position is ``file:pos`` (``mariadb-bin.000003:1234``); its integer form, the ``_sdc_lsn`` of
docs/CDC.md, is ``file number * 2**32 + pos`` (binlog files are at most 1 GiB), so integers order
positions as the server does. A transaction's changes are handed over only at its commit (the
XID event), all with the commit's position; a TRUNCATE (a query event) is a transaction alone."""

from __future__ import annotations

import logging
import random
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import GtidEvent, MariadbGtidEvent, QueryEvent, RotateEvent, XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, TableMapEvent, UpdateRowsEvent, WriteRowsEvent

from dativo_singer.errors import FatalError
from tap_mysql.row_images import fast_rows


def reader_server_id() -> int:
    """A server id for one read: replicas registered with one id push each other out, so each
    read draws its own from the upper half of the range (real replicas use small ids)."""
    return random.SystemRandom().randint(0x8000_0000, 0xFFFF_FFFE)


_COMMENTS = re.compile(r"^\s*(?:/\*.*?\*/\s*)*", re.S)
_DML = re.compile(r"(insert|update|delete|replace|load)\b", re.I)
_NAME = r"(?:`(?:[^`]|``)+`|[\w$]+)"
_QUALIFIED = re.compile(rf"({_NAME})(?:\s*\.\s*({_NAME}))?")
# Statements that change a table's definition, and where the tables they change are named.
_DDL = re.compile(
    r"(truncate(?:\s+table)?|alter(?:\s+online)?(?:\s+ignore)?\s+table|drop(?:\s+temporary)?\s+table"
    r"(?:\s+if\s+exists)?|rename\s+table|create\s+or\s+replace(?:\s+temporary)?\s+table)\s+",
    re.I,
)
_ADD_ONLY = re.compile(r"\s*add\b", re.I)
# ALTER TABLE t MODIFY [COLUMN] c <type> [, MODIFY ...]: a column's type changed in its place.
_MODIFY_ONLY = re.compile(r"\s*modify\b", re.I)
_MOVED = re.compile(r"\b(first|after|drop|change|rename|add|convert)\b", re.I)
_NOT_APPENDED = re.compile(r"\b(first|after|drop|modify|change|rename|alter|convert)\b", re.I)
_ACCESS_DENIED = (1045, 1227, 1044, 1142)
_UTF8 = ("utf8mb4", "utf8mb3", "utf8", "ascii")
Definitions = list[tuple[str, str, "str | None"]]
# pymysqlreplication warns at every connection when binlog_row_metadata is below FULL: the
# column names and types it would carry are read from the table's definition instead.
logging.getLogger("pymysqlreplication").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message="'db' is deprecated", category=DeprecationWarning)


@dataclass(frozen=True)
class BinlogPosition:
    """A position in the binlog: ``file:pos``."""

    file: str
    pos: int

    @property
    def lsn(self) -> int:
        """The integer form (``_sdc_lsn``): file number * 2**32 + pos."""
        return (int(self.file.rpartition(".")[2]) << 32) | self.pos

    def __str__(self) -> str:
        return f"{self.file}:{self.pos}"

    @classmethod
    def parse(cls, text: str) -> BinlogPosition:
        """``file:pos`` back into a position (FatalError naming the state otherwise)."""
        name, _, pos = str(text).rpartition(":")
        if not name or not pos.isdigit() or not name.rpartition(".")[2].isdigit():
            raise FatalError(f"state: log_position {text!r} is not a binlog position (file:pos)")
        return cls(name, int(pos))


@dataclass
class Change:
    """One changed row: ``op`` insert, update, delete or truncate; ``before`` the old image of an
    update (to see a key change; its key columns alone when they did not change)."""

    op: str
    row: dict[str, Any]
    before: dict[str, Any] | None = None


@dataclass
class Transaction:
    """The changes of one committed transaction, and the position just after its commit."""

    end: BinlogPosition
    timestamp: int
    gtid: str | None = None
    changes: list[Change] = field(default_factory=list)


def check_server(connection: pymysql.Connection, where: str) -> BinlogPosition:
    """The server writes a full row-based binlog this user may read: its end position, or a
    FatalError naming the setting or the privilege."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@GLOBAL.log_bin, @@GLOBAL.binlog_format, @@GLOBAL.binlog_row_image")
        log_bin, binlog_format, row_image = cursor.fetchone()
        if str(log_bin) not in ("1", "ON"):
            raise FatalError(
                f"log_bin: the binary log is off on {where}; log-based replication needs the server "
                "started with log_bin, binlog_format=ROW and binlog_row_image=FULL"
            )
        if str(binlog_format).upper() != "ROW":
            raise FatalError(
                f"binlog_format: is {binlog_format} on {where}; log-based replication reads row "
                "events: set binlog_format=ROW (SET GLOBAL binlog_format=ROW, and in the server's config)"
            )
        if str(row_image).upper() != "FULL":
            raise FatalError(
                f"binlog_row_image: is {row_image} on {where}; log-based replication needs whole rows: "
                "set binlog_row_image=FULL"
            )
        return end_position(cursor, where)


def end_position(cursor: Any, where: str) -> BinlogPosition:
    """The end of the binlog (``SHOW MASTER STATUS``; MySQL 8.4: ``SHOW BINARY LOG STATUS``), or
    a FatalError when the user may not see it."""
    try:
        try:
            cursor.execute("SHOW MASTER STATUS")
        except pymysql.err.ProgrammingError:  # MySQL 8.4 removed it
            cursor.execute("SHOW BINARY LOG STATUS")
    except (pymysql.err.OperationalError, pymysql.err.ProgrammingError) as exc:
        if exc.args and exc.args[0] in _ACCESS_DENIED:
            raise FatalError(
                _privilege_message(where, "REPLICATION CLIENT (MariaDB: BINLOG MONITOR)")
            ) from None
        raise
    row = cursor.fetchone()
    if not row:
        raise FatalError(f"log_bin: the binary log is off on {where}")
    return BinlogPosition(row[0], int(row[1]))


def retained_files(cursor: Any) -> list[tuple[str, int]]:
    """SHOW BINARY LOGS: (file, size) of every binlog file the server still keeps."""
    cursor.execute("SHOW BINARY LOGS")
    return [(str(row[0]), int(row[1])) for row in cursor.fetchall()]


def _privilege_message(where: str, privilege: str) -> str:
    return (
        f"user: lacks the {privilege} privilege on {where}; log-based replication needs "
        "REPLICATION SLAVE and REPLICATION CLIENT"
    )


class TableChanges:
    """Reads one table's committed changes from ``start`` up to ``end`` (the binlog end when
    the run began): whole transactions, in commit order."""

    def __init__(
        self,
        settings: dict[str, Any],
        schema: str,
        table: str,
        definitions: Callable[[], Definitions],
        where: str,
        on_columns: Callable[[list[str]], None],
        keys: Sequence[str] = (),
        on_types: Callable[[list[tuple[Any, str, str | None]]], None] | None = None,
    ) -> None:
        self.settings = settings
        self.schema, self.table = schema, table
        self.definitions = definitions
        self.names = definitions()  # (name, column type, character set) in table order
        self.where = where
        self.on_columns = on_columns  # told the table's columns at each of its table maps
        self.keys = tuple(keys)  # the primary key: an update's old row is read whole when it moved
        self.on_types = on_types  # told (table-map column, definition, character set) likewise

    def read(self, start: BinlogPosition, end: BinlogPosition) -> Iterator[Transaction]:
        """Transactions that touched the table (and empty ones marking progress)."""
        stream = BinLogStreamReader(
            connection_settings=dict(self.settings),
            server_id=reader_server_id(),
            log_file=start.file,
            log_pos=start.pos,
            resume_stream=True,
            blocking=False,
            only_events=[
                WriteRowsEvent,
                UpdateRowsEvent,
                DeleteRowsEvent,
                TableMapEvent,
                QueryEvent,
                XidEvent,
                RotateEvent,
                GtidEvent,
                MariadbGtidEvent,
            ],
            enable_logging=False,
        )
        current = Transaction(start, 0)
        try:
            for event in self._events(stream):
                position = BinlogPosition(stream.log_file, stream.log_pos)
                if isinstance(event, GtidEvent | MariadbGtidEvent):
                    current = Transaction(position, event.timestamp, gtid=str(event.gtid))
                elif isinstance(event, TableMapEvent):
                    self.describe(event)
                elif isinstance(event, WriteRowsEvent | UpdateRowsEvent | DeleteRowsEvent):
                    current.changes.extend(self._changes(event))
                elif isinstance(event, XidEvent) or (
                    isinstance(event, QueryEvent) and event.query.strip().upper() == "COMMIT"
                ):
                    current.end = position
                    current.timestamp = event.timestamp or current.timestamp  # the commit's time
                    yield current
                    current = Transaction(position, 0)
                    if position.lsn >= end.lsn:
                        return
                elif isinstance(event, QueryEvent):
                    done = self._query(event, current, position)
                    if done is None and not current.changes and event.query.strip().upper() != "BEGIN":
                        done = Transaction(position, event.timestamp)  # DDL elsewhere: progress only
                    if done is not None:
                        yield done
                        current = Transaction(position, 0)
                        if position.lsn >= end.lsn:
                            return
        finally:
            stream.close()

    def _events(self, stream: BinLogStreamReader) -> Iterator[Any]:
        try:
            yield from stream
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else None
            if code in _ACCESS_DENIED:
                raise FatalError(_privilege_message(self.where, "REPLICATION SLAVE")) from None
            if code == 1236:  # the server cannot send from that position (purged, unknown file)
                raise FatalError(
                    f"state: the binlog position of the bookmark is no longer on {self.where} "
                    f"({exc.args[1]}); reset the stream's state to take a new snapshot"
                ) from None
            raise

    def _ours(self, schema: Any, table: Any) -> bool:
        schema = schema.decode() if isinstance(schema, bytes) else schema
        return schema == self.schema and table == self.table

    def describe(self, event: TableMapEvent) -> None:
        """Column names, signedness, ENUM/SET values and byte columns the binlog does not carry
        (binlog_row_metadata below FULL), from the table's definition."""
        if not self._ours(event.schema, event.table):
            return
        count = len(event.columns)
        if count > len(self.names):  # columns added since (at the end: checked at their ALTER)
            self.names = self.definitions()
            if count > len(self.names):
                raise FatalError(
                    f"table '{self.schema}.{self.table}' has {len(self.names)} columns but a change at "
                    f"{event.packet.log_pos} has {count}; reset the stream's state to take a new snapshot"
                )
        self.on_columns([name for name, _, _ in self.names[:count]])
        for column, (name, column_type, charset) in zip(event.columns, self.names[:count], strict=True):
            column.name = column.name or name  # binlog_row_metadata=FULL names it itself
            column.unsigned = "unsigned" in column_type
            if column_type.startswith(("enum(", "set(")):
                values = [v.replace("''", "'") for v in re.findall(r"'((?:[^']|'')*)'", column_type)]
                column.enum_values = ["", *values]
                column.set_values = values
            # UTF-8 text decoded directly (no character-set lookup per value); bytes (no character
            # set) one byte per character, so they come back whole.
            column.character_set_name = None if charset in _UTF8 else charset or "iso8859-1"
        if self.on_types is not None:
            definitions = [(column_type, charset) for _, column_type, charset in self.names]
            self.on_types([(c, t, s) for c, (t, s) in zip(event.columns, definitions, strict=False)])

    def _changes(self, event: Any) -> list[Change]:
        if not self._ours(event.schema, event.table):
            return []
        update = isinstance(event, UpdateRowsEvent)
        rows = fast_rows(event, self.keys)
        if rows is None:  # a column type the decoder leaves to the library
            rows = [(r["before_values"], r["after_values"]) if update else r["values"] for r in event.rows]
        if update:
            return [Change("update", after, before) for before, after in rows]
        op = "insert" if isinstance(event, WriteRowsEvent) else "delete"
        return [Change(op, row) for row in rows]

    def _query(self, event: QueryEvent, current: Transaction, position: BinlogPosition) -> Transaction | None:
        """A TRUNCATE of the table as its own transaction; columns added at its end and types
        changed in place are followed (``describe``); a DML statement on it (a session that
        logged statements) or any other ALTER, DROP or RENAME of it stops the read."""
        schema = event.schema.decode() if isinstance(event.schema, bytes) else event.schema
        kind = statement_on(event.query, schema, self.schema, self.table)
        if kind == "dml":
            raise FatalError(
                f"binlog_format: a change to '{self.schema}.{self.table}' at {position} was logged as a "
                "statement, not as rows (a session with binlog_format STATEMENT or MIXED); "
                "log-based replication cannot see its rows: make every writer use binlog_format=ROW, "
                "then reset the stream's state to take a new snapshot"
            )
        if kind == "truncate":
            return Transaction(position, event.timestamp, current.gtid, [Change("truncate", {})])
        if kind == "modify_columns":  # the table maps after it carry the new types
            self.names = self.definitions()
        if kind == "ddl":
            raise FatalError(
                f"table '{self.schema}.{self.table}' was changed by {event.query.split()[0].upper()} at "
                f"{position} in a way the log cannot follow (only columns added at the end and types "
                "changed in place are); reset the stream's state to take a new snapshot"
            )
        return None


def _unquote(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name


def _names(text: str, default_schema: str | None) -> list[tuple[str | None, str]]:
    """Every ``[schema.]name`` in ``text`` as (schema, name), unqualified ones in ``default_schema``."""
    found = []
    for match in _QUALIFIED.finditer(text):
        first, second = match.group(1), match.group(2)
        if second is None:
            found.append((default_schema, _unquote(first)))
        else:
            found.append((_unquote(first), _unquote(second)))
    return found


def statement_on(query: str, default_schema: str | None, schema: str, table: str) -> str | None:
    """What a statement logged as a query does to ``schema.table``: ``dml`` (rows changed by a
    statement), ``truncate``, ``add_columns`` (columns added at its end), ``modify_columns``
    (column types changed in place), ``ddl`` (any other change of its definition), or None (it is
    not about the table)."""
    body = query[_COMMENTS.match(query).end() :]  # type: ignore[union-attr]
    ours = (schema, table)
    if _DML.match(body):
        return "dml" if ours in _names(body, default_schema) else None
    ddl = _DDL.match(body)
    if ddl is None:
        return None
    rest = body[ddl.end() :]
    verb = ddl.group(1).split()[0].lower()
    if verb in ("truncate", "alter", "create"):
        target = _QUALIFIED.match(rest)
        if target is None or ours not in _names(target.group(0), default_schema):
            return None
        if verb == "truncate":
            return "truncate"
        after = rest[target.end() :]
        if verb == "alter" and _ADD_ONLY.match(after) and not _NOT_APPENDED.search(after):
            return "add_columns"
        if verb == "alter" and _MODIFY_ONLY.match(after) and not _MOVED.search(after):
            return "modify_columns"
        return "ddl"
    return "ddl" if ours in _names(rest, default_schema) else None  # DROP / RENAME: every name
