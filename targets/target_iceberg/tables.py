"""Loading tables and finding branch heads (placeholder until the shared-core branch lands)."""

from __future__ import annotations

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from dativo_singer.errors import FatalError


def branch_head(table: Table, branch: str | None) -> Snapshot | None:
    """The snapshot at the head of ``branch`` (main when None)."""
    if branch and branch != "main":
        return table.snapshot_by_name(branch)
    return table.current_snapshot()


def load_table_or_none(catalog: Catalog, identifier: str) -> Table | None:
    """The table, or None when it (or its namespace) does not exist."""
    try:
        return catalog.load_table(identifier)
    except (NoSuchTableError, NoSuchNamespaceError):
        return None
    except Exception as exc:  # drivers raise many kinds when the catalog cannot be reached
        raise FatalError(f"cannot read table {identifier}: {type(exc).__name__}: {exc}") from None
