"""Reconciling the state file with the bookmark committed in the table's last snapshot.

The target writes the Singer state into the summary of every snapshot it commits, atomically
with the data. If the runner died after a commit but before saving the STATE that followed it,
the table is ahead of the state file: a bookmark committed after the state file was last written
is the truth. (A state file written later, e.g. by a run that read nothing new, stays.)
"""

from __future__ import annotations

import json
from typing import Any

STATE_SUMMARY_KEY = "dativo.singer-state"
_MAX_WALK = 100


def committed_bookmark(target_config: dict[str, Any], identifier: str) -> tuple[dict[str, Any], float] | None:
    """The Singer state stored with the newest snapshot (of the configured branch) that has one,
    and that snapshot's commit time (seconds since the epoch)."""
    from pyiceberg.exceptions import NoSuchTableError
    from target_iceberg.catalog import open_catalog

    try:
        table = open_catalog(target_config).load_table(identifier)
    except NoSuchTableError:
        return None
    branch = target_config.get("branch")
    snapshot = table.snapshot_by_name(branch) if branch else table.current_snapshot()
    for _ in range(_MAX_WALK):
        if snapshot is None:
            return None
        summary = snapshot.summary
        value = summary.additional_properties.get(STATE_SUMMARY_KEY) if summary else None
        if value:
            state = json.loads(value)
            return (state, snapshot.timestamp_ms / 1000) if isinstance(state, dict) else None
        if snapshot.parent_snapshot_id is None:
            return None
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id)
    return None
