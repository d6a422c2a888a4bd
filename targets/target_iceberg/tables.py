"""Facts about Iceberg tables every module asks the same way: a branch's head, a table that may
not exist yet."""

from __future__ import annotations

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from target_iceberg.catalog import classify_catalog_error


def branch_head(table: Table, branch: str | None = None) -> Snapshot | None:
    """The snapshot at the head of ``branch`` (main when None or "main"); None when it has none."""
    if branch and branch != "main":
        return table.snapshot_by_name(branch)
    return table.current_snapshot()


def snapshot_total_rows(snapshot: Snapshot | None) -> int | None:
    """The table's row count at ``snapshot`` (its summary's ``total-records``), when recorded."""
    summary = snapshot.summary if snapshot is not None else None
    value = summary.get("total-records") if summary is not None else None
    return int(value) if value is not None else None


def load_table_or_none(catalog: Catalog, identifier: str) -> Table | None:
    """The table, or None when it (or its namespace) does not exist. Any other failure is one
    clear line: ``RetriableError`` when the catalog is unreachable, else ``FatalError``."""
    try:
        return catalog.load_table(identifier)
    except (NoSuchTableError, NoSuchNamespaceError):
        return None
    except Exception as exc:  # pyiceberg raises many kinds; classified in one place
        raise classify_catalog_error(f"cannot load table {identifier}", exc) from None
