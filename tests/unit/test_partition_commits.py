"""Partitions of one job committing to one Iceberg table (the embedded SQLite catalog): a commit
built on metadata another partition has moved past loses the catalog's optimistic check, is
checked again against its own partition's bookmark and lands; no partition's bookmark is ever
another's; a partition whose own bookmark moved commits nothing."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from target_iceberg.bookmark import BookmarkMoved, branch_state, latest_bookmarks
from target_iceberg.catalog import open_catalog
from target_iceberg.local_metadata import load_local_table, state_key
from target_iceberg.table_writer import TableSettings, TableWriter

SCHEMA = pa.schema([pa.field("id", pa.int64())])


def _writer(warehouse: Path, partition: str) -> TableWriter:
    catalog = open_catalog({"warehouse_dir": str(warehouse)})
    settings = TableSettings(namespace="acme", name="orders", state_key=state_key(partition))
    writer = TableWriter(catalog, settings, logging.getLogger("test"))
    writer.expect_bookmark(None)
    return writer


def _commit(writer: TableWriter, ids: list[int], bookmark: int) -> None:
    state = {"bookmarks": {"orders": {"replication_key_value": bookmark}}}
    properties = {"dativo.stream": "orders", writer.settings.state_key: json.dumps(state)}
    writer.commit(pa.table({"id": ids}, schema=SCHEMA), properties)


def _bookmark_of(warehouse: Path, partition: str) -> Any:
    table = open_catalog({"warehouse_dir": str(warehouse)}).load_table("acme.orders")
    state = branch_state(table, None, state_key(partition))
    return state["bookmarks"]["orders"]["replication_key_value"] if state else None


def test_a_partition_behind_another_commit_retries_and_lands(tmp_path: Path, caplog: Any) -> None:
    eu, us = _writer(tmp_path, "eu"), _writer(tmp_path, "us")
    eu.table(SCHEMA)
    _commit(eu, [1, 2], bookmark=2)
    us.table(SCHEMA)  # us now builds on the table as it stands
    _commit(eu, [3], bookmark=3)  # ... which eu moves past
    with caplog.at_level(logging.WARNING):
        _commit(us, [10, 11], bookmark=11)
    assert "lost a concurrent update" in caplog.text  # the catalog refused the stale commit once
    table = open_catalog({"warehouse_dir": str(tmp_path)}).load_table("acme.orders")
    assert sorted(table.scan().to_arrow().column("id").to_pylist()) == [1, 2, 3, 10, 11]
    assert (_bookmark_of(tmp_path, "eu"), _bookmark_of(tmp_path, "us")) == (3, 11)
    assert branch_state(table, None) is None  # the unpartitioned bookmark is not written
    assert set(latest_bookmarks(table)) == {state_key("eu"), state_key("us")}
    local = load_local_table(tmp_path, "acme.orders")  # the runner's pyiceberg-free reader agrees
    assert local is not None
    found = local.latest_bookmark(None, state_key("us"))
    assert found is not None and json.loads(found[0])["bookmarks"]["orders"]["replication_key_value"] == 11


def test_a_partition_whose_own_bookmark_moved_commits_nothing(tmp_path: Path) -> None:
    first = _writer(tmp_path, "eu")
    first.table(SCHEMA)
    _commit(first, [1], bookmark=1)
    second = _writer(tmp_path, "eu")  # another run of eu that started from no bookmark
    second.table(SCHEMA)
    with pytest.raises(BookmarkMoved):
        _commit(second, [1], bookmark=1)
    table = open_catalog({"warehouse_dir": str(tmp_path)}).load_table("acme.orders")
    assert table.scan().to_arrow().column("id").to_pylist() == [1]
