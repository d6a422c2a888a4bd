"""Reconciling the state file with the bookmark committed in the table's last snapshot.

The target writes the Singer state into the summary of every snapshot it commits, atomically
with the data. If the runner died after a commit but before saving the STATE that followed it,
the table is ahead of the state file: a bookmark committed after the state file was last written
is the truth. (A state file written later, e.g. by a run that read nothing new, stays.)
"""

from __future__ import annotations

import json
from typing import Any


def committed_bookmark(target_config: dict[str, Any], identifier: str) -> tuple[dict[str, Any], float] | None:
    """The Singer state stored with the newest snapshot (of the configured branch) that has one,
    and that snapshot's commit time (seconds since the epoch)."""
    from pyiceberg.exceptions import NoSuchTableError
    from target_iceberg.bookmark import latest_bookmark
    from target_iceberg.catalog import open_catalog

    try:
        table = open_catalog(target_config).load_table(identifier)
    except NoSuchTableError:
        return None
    found = latest_bookmark(table, target_config.get("branch"))
    if found is None:
        return None
    state = json.loads(found[0])
    return (state, found[1].timestamp_ms / 1000) if isinstance(state, dict) else None
