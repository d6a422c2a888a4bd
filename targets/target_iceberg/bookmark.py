"""The Singer bookmark committed with the data: a snapshot summary property
(``dativo.singer-state``, or ``dativo.singer-state.<partition>`` for each partition of a
partitioned job: each partition's compare-and-swap checks only its own)."""

from __future__ import annotations

import json
from typing import Any

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot, ancestors_of

from dativo_singer.errors import RetriableError
from target_iceberg.local_metadata import STATE_SUMMARY_KEY as STATE_SUMMARY_KEY  # re-exported
from target_iceberg.local_metadata import state_key as state_key  # re-exported
from target_iceberg.tables import branch_head


class BookmarkMoved(RetriableError):
    """Another run committed to the table since this run started: this run's rows were read
    from a bookmark the table no longer holds, so committing them could land rows twice."""


def latest_bookmark(
    table: Table, branch: str | None = None, key: str = STATE_SUMMARY_KEY
) -> tuple[str, Snapshot] | None:
    """The bookmark (JSON text) under summary property ``key`` of the newest snapshot of
    ``branch`` (default main) that has one, with that snapshot."""
    head = branch_head(table, branch)
    for snapshot in ancestors_of(head, table.metadata):
        value = snapshot.summary.get(key) if snapshot.summary else None
        if value is not None:
            return str(value), snapshot
    return None


def latest_bookmarks(table: Table, branch: str | None = None) -> dict[str, str]:
    """Every bookmark's newest value on ``branch`` (the unpartitioned one and each
    partition's), by summary property: what a maintenance commit carries forward."""
    found: dict[str, str] = {}
    head = branch_head(table, branch)
    for snapshot in ancestors_of(head, table.metadata):
        for key, value in (snapshot.summary.additional_properties if snapshot.summary else {}).items():
            if key == STATE_SUMMARY_KEY or key.startswith(STATE_SUMMARY_KEY + "."):
                found.setdefault(key, str(value))
    return found


def check_bookmark(
    table: Table, branch: str | None, expected: dict[str, Any] | None, name: str, key: str = STATE_SUMMARY_KEY
) -> None:
    """Compare-and-swap: raise ``BookmarkMoved`` unless the table's newest bookmark ``key`` on
    ``branch`` is ``expected`` (None: no bookmark). Called on the metadata a commit builds on;
    the catalog's optimistic commit then refuses it if another commit lands in between."""
    if branch_state(table, branch, key) != expected:
        raise BookmarkMoved(
            f"another run committed to {name} since this run started (the table's bookmark "
            "moved): nothing of this commit was written; a rerun continues from the table's bookmark"
        )


def branch_state(table: Table, branch: str | None, key: str = STATE_SUMMARY_KEY) -> dict[str, Any] | None:
    """The state of the newest bookmark ``key`` on ``branch``; a branch not made yet has main's
    (it is made from main's head at the first commit)."""
    if branch and branch != "main" and branch not in table.refs():
        branch = None
    found = latest_bookmark(table, branch, key)
    return json.loads(found[0]) if found else None
