"""The table of the interop matrix at scale (tests/interop/matrix_large.py): a deterministic value
for every cell of row ``i``, the table seeded into PostgreSQL or MariaDB, and a tally that checks
rows read back from a target, one at a time, against the values generated for their keys."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

from tests.interop.matrix import canon

COLUMNS = ("id", "name", "amount", "at", "ok", "doc")
PG_TABLE = "CREATE TABLE {t} (id bigint PRIMARY KEY, name text, amount numeric(12,2), at timestamptz, ok boolean, doc jsonb)"
MY_TABLE = "CREATE TABLE {t} (id bigint PRIMARY KEY, name text, amount decimal(12,2), at datetime(6), ok boolean, doc json)"
NAMES = ('Zoë, "the" Ångström 🚀', "multi\nline\ttab", None, "日本語")
START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
CHUNK = 20_000


def row(i: int) -> tuple[Any, ...]:
    """Row ``i`` (id, name, amount, at, ok, doc) as Python values."""
    name = NAMES[i % 4]
    amount = None if i % 7 == 0 else Decimal(f"{'-' if i % 11 == 0 else ''}{i * 7919 % 10**10}.{i % 100:02d}")
    return (
        i,
        None if name is None else f"{name} {i}",
        amount,
        START + dt.timedelta(microseconds=i * 1_234_567),
        None if i % 5 == 0 else i % 2 == 0,
        {"n": i, "tags": ["a", i % 10], "price": 1.5, "s": "é"},
    )


def same_form(value: Any) -> str:
    """A cell as compared: the canonical form of tests/interop/matrix.py, as JSON text."""
    return json.dumps(canon(value), default=str, sort_keys=True)


def _text(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return value


def seed_postgres(cursor: Any, table: str, rows: int) -> None:
    """``rows`` rows into a new PostgreSQL ``table`` (qualified, quoted), by COPY."""
    cursor.execute(PG_TABLE.format(t=table))
    for first in range(1, rows + 1, CHUNK):
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for i in range(first, min(first + CHUNK, rows + 1)):
            writer.writerow(["" if v is None else _text(v) for v in row(i)])
        buffer.seek(0)
        cursor.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv, NULL '')", buffer)


def seed_mariadb(cursor: Any, table: str, rows: int) -> None:
    """``rows`` rows into a new MariaDB ``table`` of the cursor's database, by multi-row INSERTs."""
    cursor.execute(MY_TABLE.format(t=table))
    for first in range(1, rows + 1, CHUNK):
        batch = []
        for i in range(first, min(first + CHUNK, rows + 1)):
            values = list(row(i))
            values[3] = values[3].replace(tzinfo=None).isoformat(sep=" ")  # datetime(6): UTC, no zone
            batch.append(tuple(_text(v) for v in values))
        cursor.executemany(f"INSERT INTO {table} VALUES (%s,%s,%s,%s,%s,%s)", batch)


class Tally:
    """Rows read back, checked one at a time against ``expected`` for their ``id``."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.read = 0
        self.seen: set[int] = set()
        self.equal = 0
        self.differ: dict[str, int] = {}
        self.example: dict[str, str] = {}

    def add(self, landed: dict[str, Any]) -> None:
        """One row a target wrote (extra columns, e.g. ``_sdc_*``, are ignored)."""
        self.read += 1
        key = canon(landed.get("id"))
        if not isinstance(key, Decimal) or key != int(key) or not 1 <= key <= self.rows:
            self.differ["id"] = self.differ.get("id", 0) + 1
            return
        i = int(key)
        if i in self.seen:  # a duplicate: its cells are not counted twice
            return
        self.seen.add(i)
        for name, value in zip(COLUMNS, row(i), strict=True):
            got = landed.get(name)
            if type(got) is type(value) and got == value:  # as generated: no canonical form needed
                self.equal += 1
                continue
            got, want = same_form(got), same_form(value)
            if got == want:
                self.equal += 1
            else:
                self.differ[name] = self.differ.get(name, 0) + 1
                self.example.setdefault(name, f"id {i}: {got[:60]} != {want[:60]}")

    @property
    def cells(self) -> int:
        """Cells of the source table."""
        return self.rows * len(COLUMNS)

    def summary(self) -> tuple[str, str]:
        """("source rows → rows read back [notes]", "equal cells / cells [differing columns]")."""
        counts = f"{self.rows:,}→{self.read:,}"
        missing, duplicates = self.rows - len(self.seen), self.read - len(self.seen)
        notes = [f"{n:,} {what}" for n, what in ((missing, "missing"), (duplicates, "extra")) if n]
        if notes:
            counts += f" ({', '.join(notes)})"
        cells = f"{self.equal:,}/{self.cells:,}"
        if self.differ:
            cells += " (differ: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.differ.items())) + ")"
        return counts, cells
