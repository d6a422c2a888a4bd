"""target_iceberg.local_metadata (the runner's pyiceberg-free read of the embedded catalog) gives
the answers bookmark.latest_bookmark and tables.branch_head give on the pyiceberg-loaded table."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from target_iceberg.bookmark import STATE_SUMMARY_KEY, latest_bookmark
from target_iceberg.catalog import open_catalog
from target_iceberg.local_metadata import LocalTable, Unreadable, load_local_table
from target_iceberg.tables import branch_head

ROWS = pa.table({"id": pa.array([1, 2], pa.int64())})


def _same(warehouse: Path, identifier: str, branch: str | None) -> tuple[str, int] | None:
    table = open_catalog({"warehouse_dir": str(warehouse)}).load_table(identifier)
    local = load_local_table(warehouse, identifier)
    assert isinstance(local, LocalTable)
    assert local.metadata_location == table.metadata_location
    head, local_head = branch_head(table, branch), local.branch_head(branch)
    assert (local_head or {}).get("snapshot-id") == (head.snapshot_id if head else None)
    found = latest_bookmark(table, branch)
    expected = (found[0], found[1].snapshot_id) if found else None
    assert local.latest_bookmark(branch) == expected
    return expected


def test_bookmarks_and_heads_match_pyiceberg(tmp_path: Path) -> None:
    assert load_local_table(tmp_path, "ns.orders") is None  # no catalog yet
    catalog = open_catalog({"warehouse_dir": str(tmp_path)})
    catalog.create_namespace("ns")
    assert load_local_table(tmp_path, "ns.orders") is None  # no such table
    table = catalog.create_table("ns.orders", schema=ROWS.schema)
    assert _same(tmp_path, "ns.orders", None) is None  # no snapshot yet
    table.append(ROWS, snapshot_properties={STATE_SUMMARY_KEY: json.dumps({"b": 1})})
    table.append(ROWS)  # a later snapshot without a bookmark: the older one is still found
    assert _same(tmp_path, "ns.orders", None) == (
        json.dumps({"b": 1}),
        table.metadata.snapshots[0].snapshot_id,
    )
    table = catalog.load_table("ns.orders")
    table.manage_snapshots().create_branch(table.metadata.snapshots[0].snapshot_id, "audit").commit()
    table = catalog.load_table("ns.orders")
    table.append(ROWS, snapshot_properties={STATE_SUMMARY_KEY: json.dumps({"b": 2})})
    assert _same(tmp_path, "ns.orders", None)[0] == json.dumps({"b": 2})
    assert _same(tmp_path, "ns.orders", "audit")[0] == json.dumps({"b": 1})
    assert _same(tmp_path, "ns.orders", "missing") is None


def test_remote_metadata_is_left_to_pyiceberg(tmp_path: Path) -> None:
    catalog = open_catalog({"warehouse_dir": str(tmp_path)})
    catalog.create_namespace("ns")
    catalog.create_table("ns.orders", schema=ROWS.schema)
    location = catalog.load_table("ns.orders").metadata_location
    import sqlite3

    with sqlite3.connect(tmp_path / "catalog.db") as connection:
        connection.execute("UPDATE iceberg_tables SET metadata_location = ?", ("s3://b/" + location[-40:],))
    with pytest.raises(Unreadable):
        load_local_table(tmp_path, "ns.orders")
