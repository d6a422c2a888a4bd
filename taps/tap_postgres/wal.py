"""PostgreSQL's change log for LOG_BASED streams: checks, the publication, the replication slot.

The slot is read with ``pg_logical_slot_peek_binary_changes`` (``pgoutput``), which never
consumes it; it is confirmed (``pg_replication_slot_advance``) only at the start of a later run,
to the oldest position the target committed (docs/CDC.md). Each failure is one line naming the
setting or the server setting to change.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dativo_singer.errors import FatalError, RetriableError
from tap_postgres.pgoutput import lsn_int, lsn_text

# Rows of the peek fetched at a time (a server-side cursor).
PEEK_FETCH_ROWS = 20_000
# Asynchronous commits are flushed by the WAL writer within a few wal_writer_delay.
FLUSH_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class SlotPosition:
    """Where a slot stands: confirmed (``confirmed_flush_lsn``), retained from (``restart_lsn``)
    and the server's current WAL position, all as integers."""

    confirmed: int
    restart: int
    current: int

    @property
    def retained_bytes(self) -> int:
        """WAL the slot keeps on the server's disk."""
        return max(0, self.current - self.restart)

    @property
    def lag_bytes(self) -> int:
        """WAL written since the slot's confirmed position."""
        return max(0, self.current - self.confirmed)


def _one(connection: Any, sql: str, params: tuple[Any, ...] = ()) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def check_server(connection: Any) -> None:
    """``wal_level`` is logical and the user may replicate (superuser or REPLICATION)."""
    level = _one(connection, "SHOW wal_level")
    if level != "logical":
        raise FatalError(
            f"log_based: the server's wal_level is {level!r}; logical replication needs "
            "wal_level = logical (postgresql.conf, then a server restart)"
        )
    allowed = _one(connection, "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user")
    if not allowed:
        user = _one(connection, "SELECT current_user")
        raise FatalError(
            f"user: {user!r} may not read the change log; ALTER ROLE {user} REPLICATION "
            "(and give it SELECT on the tables)"
        )


def ensure_publication(connection: Any, name: str, tables: list[tuple[str, str]]) -> None:
    """The publication exists (created for ``tables`` if missing) and publishes every table."""
    exists = _one(connection, "SELECT count(*) FROM pg_publication WHERE pubname = %s", (name,))
    quoted = ", ".join(f'"{schema}"."{table}"' for schema, table in tables)
    with connection.cursor() as cursor:
        if not exists:
            try:
                cursor.execute(f'CREATE PUBLICATION "{name}" FOR TABLE {quoted}')
            except Exception as exc:
                raise FatalError(f"publication: cannot create publication {name!r}: {_first(exc)}") from None
            return
        cursor.execute("SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = %s", (name,))
        published = {(row[0], row[1]) for row in cursor.fetchall()}
    missing = [t for t in tables if t not in published]
    if missing:
        label = ", ".join(f"{s}.{t}" for s, t in missing)
        raise FatalError(
            f"publication: {name!r} does not publish {label}; ALTER PUBLICATION {name} ADD TABLE "
            f"{label} (or name another publication)"
        )


def ensure_slot(connection: Any, name: str) -> bool:
    """The logical slot with ``pgoutput`` exists; True when it was created now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT plugin, database FROM pg_replication_slots WHERE slot_name = %s", (name,))
        row = cursor.fetchone()
        if row is not None:
            if row[0] != "pgoutput" or row[1] != connection.info.dbname:
                raise FatalError(
                    f"replication_slot: slot {name!r} exists for plugin {row[0]!r} in database "
                    f"{row[1]!r}, not pgoutput in {connection.info.dbname!r}; name another slot"
                )
            return False
        try:
            cursor.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (name,))
        except Exception as exc:
            raise FatalError(f"replication_slot: cannot create slot {name!r}: {_first(exc)}") from None
    return True


def slot_position(connection: Any, name: str) -> SlotPosition:
    """The slot's confirmed and restart positions and the server's current one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT confirmed_flush_lsn::text, restart_lsn::text, pg_current_wal_lsn()::text "
            "FROM pg_replication_slots WHERE slot_name = %s",
            (name,),
        )
        row = cursor.fetchone()
    if row is None:
        raise FatalError(f"replication_slot: slot {name!r} does not exist")
    return SlotPosition(lsn_int(row[0]), lsn_int(row[1]), lsn_int(row[2]))


def advance_slot(connection: Any, name: str, to: int) -> None:
    """Confirm the slot up to ``to`` (only forward)."""
    if to > slot_position(connection, name).confirmed:
        _one(connection, "SELECT pg_replication_slot_advance(%s, %s::pg_lsn)", (name, lsn_text(to)))


def drop_slot(connection: Any, name: str) -> bool:
    """Drop the slot if it exists and no one reads it; True when it was dropped."""
    active = _one(connection, "SELECT active FROM pg_replication_slots WHERE slot_name = %s", (name,))
    if active is None:
        return False
    if active:
        raise FatalError(f"replication_slot: slot {name!r} is being read right now; stop that reader first")
    _one(connection, "SELECT pg_drop_replication_slot(%s)", (name,))
    return True


def read_end(connection: Any, timeout: float = FLUSH_WAIT_SECONDS) -> int:
    """Where a run's read ends: the WAL insert position now, once the server has flushed it.
    Decoding reads only flushed WAL (with ``synchronous_commit = off`` a commit is visible before
    its record is flushed), and every commit record starting before this position ends at or
    before it, so a read up to it misses none that the next run would skip."""
    end = lsn_int(_one(connection, "SELECT pg_current_wal_insert_lsn()::text"))
    deadline = time.monotonic() + timeout
    while lsn_int(_one(connection, "SELECT pg_current_wal_flush_lsn()::text")) < end:
        if time.monotonic() > deadline:
            raise RetriableError(f"the server has not flushed WAL up to {lsn_text(end)} in {timeout:.0f}s")
        time.sleep(0.02)
    return end


def peek_changes(connection: Any, slot: str, publication: str, upto: int) -> Iterator[list[bytes]]:
    """The slot's pgoutput messages up to position ``upto``, without consuming them, in lists
    of up to ``PEEK_FETCH_ROWS``."""
    with connection.cursor(name="dativo_peek") as cursor:
        cursor.execute(
            "SELECT data FROM pg_logical_slot_peek_binary_changes(%s, %s::pg_lsn, NULL, "
            "'proto_version', '1', 'publication_names', %s)",
            (slot, lsn_text(upto), publication),
        )
        while rows := cursor.fetchmany(PEEK_FETCH_ROWS):
            yield [bytes(data) for (data,) in rows]


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
