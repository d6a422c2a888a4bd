"""target_iceberg.pyiceberg_internals and target_iceberg.tables on a real embedded catalog
(SQLite + local files): what a pyiceberg upgrade must keep working."""

from __future__ import annotations

import itertools
import socket
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import ResolveError
from pyiceberg.table import Table, TableProperties
from pyiceberg.types import StringType
from target_iceberg.catalog import open_catalog
from target_iceberg.pyiceberg_internals import (
    append_data_files,
    iceberg_schema,
    read_data_files,
    swap_data_files,
    write_data_files,
    write_unsplit_data_files,
)
from target_iceberg.tables import branch_head, load_table_or_none

from dativo_singer.errors import FatalError, RetriableError

ROWS = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": ["a", "b", "c"]})


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    catalog = open_catalog({"warehouse_dir": str(tmp_path / "wh")})
    catalog.create_namespace("t")
    return catalog


def _table(catalog: Catalog, **properties: str) -> Table:
    return catalog.create_table("t.items", schema=ROWS.schema, properties=properties)


def _ids(table: Table) -> list[int]:
    table.refresh()
    return sorted(table.scan().to_arrow().column("id").to_pylist())


def test_iceberg_schema_has_the_ids_create_table_gives(catalog: Catalog) -> None:
    schema = iceberg_schema(ROWS.schema)
    table = _table(catalog)
    assert [(f.field_id, f.name) for f in schema.fields] == [
        (f.field_id, f.name) for f in table.schema().fields
    ]


def test_written_files_are_invisible_until_appended(catalog: Catalog) -> None:
    table = _table(catalog)
    files = write_data_files(table, ROWS, uuid.uuid4(), itertools.count(0))
    assert sum(f.record_count for f in files) == 3 and branch_head(table) is None
    append_data_files(table, files, {"dativo.test": "1"})
    assert _ids(table) == [1, 2, 3]
    head = branch_head(table)
    assert head is not None and head.summary is not None and head.summary["dativo.test"] == "1"


def test_unsplit_write_makes_one_file_despite_a_tiny_target_size(catalog: Catalog) -> None:
    table = _table(catalog, **{TableProperties.WRITE_TARGET_FILE_SIZE_BYTES: "1"})
    big = pa.table({"id": pa.array(range(200), pa.int64()), "name": [str(i) for i in range(200)]})
    assert len(write_data_files(table, big, uuid.uuid4(), itertools.count(0))) > 1
    assert len(write_unsplit_data_files(table, big, uuid.uuid4(), itertools.count(0))) == 1


def test_read_data_files_and_swap_them_on_a_branch(catalog: Catalog) -> None:
    table = _table(catalog)
    table.append(ROWS)
    table.manage_snapshots().create_branch(branch_head(table).snapshot_id, "dev").commit()  # type: ignore[union-attr]
    tasks = list(table.scan(snapshot_id=branch_head(table, "dev").snapshot_id).plan_files())  # type: ignore[union-attr]
    assert read_data_files(table, tasks).column("id").to_pylist() == [1, 2, 3]

    write_uuid = uuid.uuid4()
    added = write_data_files(
        table, pa.table({"id": pa.array([9], pa.int64()), "name": ["z"]}), write_uuid, itertools.count(0)
    )
    swap_data_files(table, [t.file for t in tasks], added, {"dativo.test": "swap"}, write_uuid, "dev")
    table.refresh()
    dev = branch_head(table, "dev")
    assert dev is not None and dev.summary is not None and dev.summary["dativo.test"] == "swap"
    assert table.scan(snapshot_id=dev.snapshot_id).to_arrow().column("id").to_pylist() == [9]
    assert _ids(table) == [1, 2, 3]  # main is untouched
    assert branch_head(table, "main") == branch_head(table) != dev


def test_load_table_or_none(catalog: Catalog) -> None:
    assert load_table_or_none(catalog, "t.missing") is None
    assert load_table_or_none(catalog, "nowhere.missing") is None
    _table(catalog)
    assert load_table_or_none(catalog, "t.items") is not None


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "props",
    [
        lambda port: {"type": "sql", "uri": f"postgresql+psycopg2://postgres:x@127.0.0.1:{port}/db"},
        lambda port: {"type": "rest", "uri": f"http://127.0.0.1:{port}"},
    ],
    ids=["postgres", "rest"],
)
def test_an_unreachable_catalog_is_retriable(props, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RetriableError, match="cannot open Iceberg catalog"):
        open_catalog({"catalog": {**props(_closed_port()), "warehouse": tmp_path.as_uri()}})


def test_a_misconfigured_catalog_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(FatalError, match="cannot open Iceberg catalog"):
        open_catalog({"catalog": {"type": "sql", "uri": f"sqlite:///{tmp_path}/no/such/dir/c.db"}})
    with pytest.raises(FatalError, match="cannot open Iceberg catalog"):
        open_catalog({"catalog": {"type": "no-such-kind"}})


def test_a_staged_replace_writes_in_the_background_and_raises_a_failed_write_before_commit(
    catalog: Catalog,
) -> None:
    """Each staged batch is written in a thread while the next is read; the files and rows are
    whole once asked for, the commit swaps them in, and a write that failed is raised before
    anything is committed (the table stays as it was)."""
    from target_iceberg.replace import StagedReplace

    table = _table(catalog)
    table.append(pa.table({"id": pa.array([9], pa.int64()), "name": ["old"]}))
    staged = StagedReplace()
    staged.stage(table, ROWS)
    staged.stage(table, pa.table({"id": pa.array([4, 5], pa.int64()), "name": ["d", "e"]}))
    assert (staged.rows, sum(f.record_count for f in staged.files)) == (5, 5)
    assert _ids(table) == [9]  # nothing committed yet
    staged.commit(table, {"dativo.test": "1"}, "main")
    assert _ids(table) == [1, 2, 3, 4, 5]

    failing = StagedReplace()
    failing.stage(table, pa.table({"id": pa.array(["not a number"]), "name": ["x"]}))
    with pytest.raises(ResolveError, match="Cannot promote an string to long"):
        failing.commit(table, {"dativo.test": "2"}, "main")
    assert _ids(table) == [1, 2, 3, 4, 5]


def test_a_replace_of_an_unpartitioned_table_fills_one_file_a_row_group_per_batch(catalog: Catalog) -> None:
    """Staged batches go on into one open data file: the same rows, statistics and names as one
    ``write_data_files`` of them all; a schema change closes the file first."""
    import pyarrow.parquet as pq
    from target_iceberg.replace import StagedReplace

    table = _table(catalog)
    batches = [
        pa.table({"id": pa.array(range(i, i + 3), pa.int64()), "name": ["a", None, "c"]}) for i in (5, 1, 9)
    ]
    staged = StagedReplace()
    for batch in batches:
        staged.stage(table, batch)
    [streamed] = staged.files
    [whole] = write_data_files(table, pa.concat_tables(batches), uuid.uuid4(), itertools.count(0))
    fields = (
        "record_count",
        "column_sizes",
        "value_counts",
        "null_value_counts",
        "lower_bounds",
        "upper_bounds",
    )
    same = {"record_count", "value_counts", "null_value_counts", "lower_bounds", "upper_bounds"}
    assert {f: getattr(streamed, f) for f in same} == {f: getattr(whole, f) for f in same}
    assert all(getattr(streamed, f) is not None for f in fields)
    assert pq.ParquetFile(streamed.file_path.removeprefix("file://")).metadata.num_row_groups == 3
    staged.commit(table, {"dativo.test": "1"}, "main")
    assert _ids(table) == [1, 2, 3, 5, 6, 7, 9, 10, 11]

    # a new column: the rows before it are in a closed file of the old schema
    again = StagedReplace()
    again.stage(table, batches[0])
    again.wait()
    with table.update_schema() as update:
        update.add_column("extra", StringType())
    again.stage(table, pa.table({"id": pa.array([20], pa.int64()), "name": ["z"], "extra": ["x"]}))
    assert len(again.files) == 2
    again.commit(table, {"dativo.test": "2"}, "main")
    table.refresh()
    rows = table.scan().to_arrow().sort_by("id").to_pylist()
    assert rows == [
        {"id": 5, "name": "a", "extra": None},
        {"id": 6, "name": None, "extra": None},
        {"id": 7, "name": "c", "extra": None},
        {"id": 20, "name": "z", "extra": "x"},
    ]
