"""The embedded catalog opened with sqlite3 alone behaves as pyiceberg's SQL catalog on the same
file: each reads what the other wrote, a commit from stale metadata is refused, racing writers in
separate processes land every append exactly once, and no SQLAlchemy is imported on the way."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import CommitFailedException, NamespaceAlreadyExistsError, TableAlreadyExistsError
from pyiceberg.table.update import AssertRefSnapshotId, SetPropertiesUpdate
from target_iceberg.catalog import open_catalog
from target_iceberg.sqlite_catalog import SqliteCatalog

WRITERS = 3
APPENDS = 4


def _pyiceberg(root: Path) -> SqlCatalog:
    return SqlCatalog("dativo", uri=f"sqlite:///{root}/catalog.db", warehouse=root.as_uri())


def _rows(first: int, count: int) -> pa.Table:
    return pa.table({"id": pa.array(range(first, first + count), pa.int64())})


def _ids(catalog: object, table: str = "ns.items") -> list[int]:
    return sorted(catalog.load_table(table).scan().to_arrow()["id"].to_pylist())  # type: ignore[attr-defined]


def test_reads_and_writes_what_pyiceberg_does(tmp_path: Path) -> None:
    reference = _pyiceberg(tmp_path)  # creates the catalog's tables
    light = open_catalog({"warehouse_dir": str(tmp_path)})
    assert isinstance(light, SqliteCatalog)
    light.create_namespace("ns", {"dativo.tenant": "acme"})
    with pytest.raises(NamespaceAlreadyExistsError):
        light.create_namespace("ns")
    assert reference.load_namespace_properties("ns") == {"dativo.tenant": "acme"}
    table = light.create_table("ns.items", schema=_rows(0, 0).schema)
    with pytest.raises(TableAlreadyExistsError):
        light.create_table("ns.items", schema=_rows(0, 0).schema)
    table.append(_rows(0, 3))
    reference.load_table("ns.items").append(_rows(3, 2))
    assert _ids(light) == _ids(reference) == [0, 1, 2, 3, 4]
    assert light.list_tables("ns") == [("ns", "items")]  # handed to pyiceberg's catalog


def _tables_sql(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
    return [r[0].replace("CREATE TABLE IF NOT EXISTS", "CREATE TABLE") for r in rows]


def test_a_new_catalog_file_gets_pyiceberg_s_tables(tmp_path: Path) -> None:
    (tmp_path / "ours").mkdir()
    (tmp_path / "theirs").mkdir()
    assert isinstance(open_catalog({"warehouse_dir": str(tmp_path / "ours")}), SqliteCatalog)
    _pyiceberg(tmp_path / "theirs")
    assert _tables_sql(tmp_path / "ours/catalog.db") == _tables_sql(tmp_path / "theirs/catalog.db")
    assert len(_tables_sql(tmp_path / "ours/catalog.db")) == 2


def test_a_commit_from_stale_metadata_is_refused(tmp_path: Path) -> None:
    _pyiceberg(tmp_path).create_namespace("ns")
    light = SqliteCatalog("dativo", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=tmp_path.as_uri())
    light.create_table("ns.items", schema=_rows(0, 0).schema)
    first, second = light.load_table("ns.items"), light.load_table("ns.items")
    first.append(_rows(0, 2))
    stale = (AssertRefSnapshotId(ref="main", snapshot_id=None),)  # what second's append requires
    with pytest.raises(CommitFailedException):
        light.commit_table(second, stale, (SetPropertiesUpdate(updates={"k": "v"}),))
    second.append(_rows(2, 2))  # pyiceberg retries from the new head: both land once
    assert _ids(light) == [0, 1, 2, 3]
    assert "k" not in light.load_table("ns.items").properties


def _writer(root: str, index: int, start: multiprocessing.synchronize.Barrier) -> int:
    catalog = open_catalog({"warehouse_dir": root})
    start.wait()
    retries = 0
    for n in range(APPENDS):
        while True:
            try:
                catalog.load_table("ns.items").append(_rows(1000 * index + n, 1))
                break
            except CommitFailedException:
                retries += 1
    return retries


def test_racing_writers_land_every_append_once(tmp_path: Path) -> None:
    reference = _pyiceberg(tmp_path)
    reference.create_namespace("ns")
    reference.create_table("ns.items", schema=_rows(0, 0).schema)
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Barrier(WRITERS)
        with context.Pool(WRITERS) as pool:
            pool.starmap(_writer, [(str(tmp_path), i, start) for i in range(WRITERS)])
    expected = sorted(1000 * i + n for i in range(WRITERS) for n in range(APPENDS))
    assert _ids(reference) == expected
    assert len(reference.load_table("ns.items").metadata.snapshots) == WRITERS * APPENDS


def test_no_sqlalchemy_on_the_write_path(tmp_path: Path) -> None:
    code = (
        "import sys, pyarrow as pa; from target_iceberg.catalog import open_catalog; "
        f"c = open_catalog({{'warehouse_dir': {str(tmp_path)!r}}}); c.create_namespace('ns'); "
        "t = c.create_table('ns.items', schema=pa.schema([('id', pa.int64())])); "
        "t.append(pa.table({'id': pa.array([1], pa.int64())})); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
