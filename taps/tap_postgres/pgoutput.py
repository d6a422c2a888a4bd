"""Decoding PostgreSQL's built-in ``pgoutput`` logical replication messages (protocol version 1).

Each message is one ``bytea`` of ``pg_logical_slot_peek_binary_changes``; the layout is
PostgreSQL's "Logical Replication Message Formats". Values arrive in their text form (as
``SELECT col::text`` shows them); ``UNCHANGED`` stands for a TOASTed value the update left as it
was (the log does not carry it).
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass, field

POSTGRES_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
_INT16, _INT32 = struct.Struct("!h"), struct.Struct("!i")
_BEGIN, _COMMIT = struct.Struct("!Qq"), struct.Struct("!bQQ")  # after the tag byte
_BEGIN_TAG, _COMMIT_TAG = ord("B"), ord("C")
_NULL, _UNCHANGED_TOAST = ord("n"), ord("u")


class Unchanged:
    """A TOASTed value an update did not change: not in the log."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()
Value = str | None | Unchanged


@dataclass
class Relation:
    """A table as the log describes it: its columns (name, type oid, type modifier) and key columns."""

    relid: int
    schema: str
    name: str
    columns: list[tuple[str, int]]
    key_columns: list[str]
    type_modifiers: list[int] = field(default_factory=list)  # per column: numeric(p, s), varchar(n)


@dataclass
class Begin:
    """A transaction starts; ``commit_lsn`` is its commit record's position."""

    commit_lsn: int
    committed_at: dt.datetime


@dataclass
class Commit:
    """A transaction ends; ``end_lsn`` is the position after its commit record."""

    commit_lsn: int
    end_lsn: int


@dataclass
class RowChange:
    """An insert, update or delete of one row of ``relid``; ``old`` is the old key (or, with
    REPLICA IDENTITY FULL, the old row) when the log carries it."""

    op: str  # "insert" | "update" | "delete"
    relid: int
    new: list[Value] | None = None
    old: list[Value] | None = None


@dataclass
class Truncate:
    """TRUNCATE of the tables ``relids``."""

    relids: list[int] = field(default_factory=list)


Message = Relation | Begin | Commit | RowChange | Truncate | None


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def byte(self) -> str:
        self.pos += 1
        return chr(self.data[self.pos - 1])

    def text(self) -> str:
        end = self.data.index(b"\0", self.pos)
        value = self.data[self.pos : end].decode()
        self.pos = end + 1
        return value

    def tuple(self) -> list[Value]:
        data, pos = self.data, self.pos
        (count,) = _INT16.unpack_from(data, pos)
        pos += 2
        values: list[Value] = []
        append = values.append
        for _ in range(count):
            kind = data[pos]
            pos += 1
            if kind == _NULL:
                append(None)
            elif kind == _UNCHANGED_TOAST:
                append(UNCHANGED)
            else:  # "t" (text); "b" (binary) is never asked for
                (size,) = _INT32.unpack_from(data, pos)
                pos += 4
                append(data[pos : pos + size].decode())
                pos += size
        self.pos = pos
        return values


def _timestamp(micros: int) -> dt.datetime:
    return POSTGRES_EPOCH + dt.timedelta(microseconds=micros)


def decode(data: bytes) -> Message:
    """One pgoutput message; None for those a reader needs not act on (type, origin)."""
    first = data[0]
    if first == _BEGIN_TAG:  # one per transaction: read at once
        lsn, micros = _BEGIN.unpack_from(data, 1)
        return Begin(lsn, _timestamp(micros))
    if first == _COMMIT_TAG:
        _, commit_lsn, end_lsn = _COMMIT.unpack_from(data, 1)
        return Commit(commit_lsn, end_lsn)
    reader = _Reader(bytes(data))
    tag = reader.byte()
    if tag == "R":
        relid, schema, name = reader.take("!I"), reader.text(), reader.text()
        reader.byte()  # replica identity setting
        columns, keys, modifiers = [], [], []
        for _ in range(reader.take("!h")):
            flags, column = reader.take("!b"), reader.text()
            type_oid = reader.take("!I")
            modifiers.append(reader.take("!i"))
            columns.append((column, type_oid))
            if flags & 1:
                keys.append(column)
        return Relation(relid, schema, name, columns, keys, modifiers)
    if tag == "I":
        relid = reader.take("!I")
        reader.byte()  # "N"
        return RowChange("insert", relid, new=reader.tuple())
    if tag == "U":
        relid = reader.take("!I")
        kind, old = reader.byte(), None
        if kind in ("K", "O"):
            old = reader.tuple()
            kind = reader.byte()
        return RowChange("update", relid, new=reader.tuple(), old=old)
    if tag == "D":
        relid = reader.take("!I")
        reader.byte()  # "K" or "O"
        return RowChange("delete", relid, old=reader.tuple())
    if tag == "T":
        count = reader.take("!i")
        reader.take("!b")  # options (CASCADE, RESTART IDENTITY)
        return Truncate([reader.take("!I") for _ in range(count)])
    return None


def lsn_text(lsn: int) -> str:
    """PostgreSQL's notation of a log position: ``16/B374D848``."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def lsn_int(text: str) -> int:
    """A log position from PostgreSQL's notation."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)
