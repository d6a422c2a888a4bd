"""The Singer bookmark committed with the data: a snapshot summary property."""

from __future__ import annotations

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot, ancestors_of

from target_iceberg.local_metadata import STATE_SUMMARY_KEY as STATE_SUMMARY_KEY  # re-exported
from target_iceberg.tables import branch_head


def latest_bookmark(table: Table, branch: str | None = None) -> tuple[str, Snapshot] | None:
    """The bookmark (JSON text) of the newest snapshot of ``branch`` (default main) that has one,
    with that snapshot."""
    head = branch_head(table, branch)
    for snapshot in ancestors_of(head, table.metadata):
        value = snapshot.summary.get(STATE_SUMMARY_KEY) if snapshot.summary else None
        if value is not None:
            return str(value), snapshot
    return None
