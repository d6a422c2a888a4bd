"""Read-only facts of a table in the embedded catalog (SQLite ``catalog.db`` + local metadata
files), without pyiceberg: the runner reads a job's committed bookmark and landed snapshot before
and after every run, and loading pyiceberg (with SQLAlchemy and pydantic) for that costs about a
CPU-second per run. The answers are the ones ``bookmark.latest_bookmark`` and
``tables.branch_head`` give on the pyiceberg-loaded table (tests/unit/test_local_metadata.py
compares them); anything this reader does not know raises ``Unreadable`` and the caller asks
pyiceberg instead.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

# Defined here (no pyiceberg import); ``catalog`` and ``bookmark`` take them from this module.
CATALOG_NAME = "dativo"
STATE_SUMMARY_KEY = "dativo.singer-state"


def state_key(partition: str | None) -> str:
    """The summary property of a bookmark: ``dativo.singer-state``, or for one partition of a
    partitioned job ``dativo.singer-state.<partition>`` (partitions never share a bookmark)."""
    return f"{STATE_SUMMARY_KEY}.{partition}" if partition else STATE_SUMMARY_KEY


class Unreadable(Exception):
    """This reader cannot answer (remote file, unknown layout): use pyiceberg."""


@dataclass(frozen=True)
class LocalTable:
    """A table's current metadata file and its parsed JSON."""

    metadata_location: str
    metadata: dict[str, Any]

    def snapshot(self, snapshot_id: int | None) -> dict[str, Any] | None:
        """The snapshot with this id, None when absent."""
        if snapshot_id is None:
            return None
        return next(
            (s for s in self.metadata.get("snapshots") or [] if s["snapshot-id"] == snapshot_id), None
        )

    def branch_head(self, branch: str | None = None) -> dict[str, Any] | None:
        """The head snapshot of ``branch`` (main when None or "main"), as ``tables.branch_head``."""
        if branch and branch != "main":
            ref = (self.metadata.get("refs") or {}).get(branch)
            return self.snapshot(ref["snapshot-id"]) if ref else None
        current = self.metadata.get("current-snapshot-id")
        return self.snapshot(None if current in (None, -1) else int(current))

    def latest_bookmark(
        self, branch: str | None = None, key: str = STATE_SUMMARY_KEY
    ) -> tuple[str, int] | None:
        """The bookmark (JSON text, summary property ``key``) of the newest snapshot of
        ``branch`` that has one, with that snapshot's id, as ``bookmark.latest_bookmark``."""
        snapshot = self.branch_head(branch)
        seen: set[int] = set()
        while snapshot is not None and snapshot["snapshot-id"] not in seen:
            seen.add(snapshot["snapshot-id"])
            value = (snapshot.get("summary") or {}).get(key)
            if value is not None:
                return str(value), int(snapshot["snapshot-id"])
            snapshot = self.snapshot(snapshot.get("parent-snapshot-id"))
        return None


def load_local_table(warehouse_dir: str | Path, identifier: str) -> LocalTable | None:
    """The table ``namespace.name`` of the embedded catalog in ``warehouse_dir``; None when the
    catalog, its tables or this table do not exist (as ``tables.load_table_or_none``)."""
    database = Path(warehouse_dir).resolve() / "catalog.db"
    if not database.exists():
        return None
    namespace, _, name = identifier.rpartition(".")
    try:
        with contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as connection:
            row = connection.execute(
                "SELECT metadata_location FROM iceberg_tables "
                "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?",
                (CATALOG_NAME, namespace, name),
            ).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise Unreadable(str(exc)) from None
    if row is None:
        return None
    location = str(row[0])
    parsed = urlparse(location)
    if parsed.scheme not in ("file", ""):
        raise Unreadable(f"metadata at {location}")
    try:
        raw = Path(unquote(parsed.path)).read_bytes()
        text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        metadata = json.loads(text)
    except (OSError, ValueError) as exc:
        raise Unreadable(str(exc)) from None
    if not isinstance(metadata, dict) or metadata.get("format-version") not in (1, 2, 3):
        raise Unreadable(f"unknown metadata layout in {location}")
    return LocalTable(location, metadata)
