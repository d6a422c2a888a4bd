"""BATCH Parquet files added to the table as they are (target-iceberg ``register_batch_files``):
the same rows as the rewrite, and a rewrite whenever keeping the file would change anything."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog import load_catalog
from target_iceberg.catalog import open_catalog

from dativo_singer.conversion import RecordConverter
from tests.helpers import duckdb_reader
from tests.helpers.project import Project
from tests.helpers.singer import emitted_states, run_target, schema, state

pytestmark = pytest.mark.integration

PROPS = {
    "id": {"type": "integer"},
    "email": {"type": ["string", "null"]},
    "amount": {"type": ["number", "null"], "multipleOf": 0.01, "maximum": 999.99},
    "seen_at": {"type": ["string", "null"], "format": "date-time"},
}
KEPT = "-batch.parquet"  # how a file added as it is is named in the table


def _stream_schema(keys: list[str]) -> pa.Schema:
    """The Arrow schema target-iceberg makes of PROPS (what a tap's typed Parquet holds)."""
    message = schema("items", PROPS, keys)
    return RecordConverter(message["schema"], keys).schema


def _rows(ids: range | list[int], tag: str = "v1") -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "email": None if i % 7 == 0 else f"{tag}-{i}@x.io",
            "amount": Decimal(i % 1000) / 4 if i % 5 else None,
            "seen_at": pa.scalar(1_700_000_000_000_000 + i, pa.timestamp("us", tz="UTC")).as_py(),
        }
        for i in ids
    ]


def _file(tmp: Path, rows: list[dict[str, Any]], arrow: pa.Schema | None = None) -> Path:
    path = tmp / f"batch-{uuid.uuid4().hex}.parquet"
    table = pa.Table.from_pylist(rows, schema=(arrow or _stream_schema(["id"])).with_metadata({}))
    pq.write_table(table, path)
    return path


def _batch(*paths: Path) -> dict[str, Any]:
    return {
        "type": "BATCH",
        "stream": "items",
        "encoding": {"format": "parquet"},
        "manifest": [p.as_uri() for p in paths],
    }


def _config(tmp: Path, namespace: str = "t", **extra: Any) -> dict[str, Any]:
    return {
        "warehouse_dir": str(tmp / "wh"),
        "namespace": namespace,
        "dead_letter_dir": str(tmp / "dead"),
        **extra,
    }


def _table(config: dict[str, Any]) -> Any:
    return open_catalog(config).load_table(f"{config['namespace']}.items")


def _data_files(config: dict[str, Any]) -> list[str]:
    return [task.file.file_path for task in _table(config).scan().plan_files()]


def _sorted_rows(config: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(_table(config).scan().to_arrow().to_pylist(), key=lambda r: r["id"])


def test_files_in_the_table_types_are_added_as_they_are_with_the_rows_a_rewrite_gives(
    tmp_path: Path,
) -> None:
    first, second = _file(tmp_path, _rows(range(1, 501))), _file(tmp_path, _rows(range(501, 1201)))
    messages = [
        schema("items", PROPS, ["id"]),
        _batch(first),
        state({"s": 1}),
        _batch(second),
        state({"s": 2}),
    ]
    kept = _config(tmp_path, "kept")
    rewritten = _config(tmp_path, "rewritten", register_batch_files=False)
    result = run_target(kept, messages, tmp_path)
    run_target(rewritten, messages, tmp_path)

    assert emitted_states(result)[-1] == {"s": 2}
    kept_files = _data_files(kept)
    assert len(kept_files) == 2 and all(f.endswith(KEPT) for f in kept_files)
    assert not any(f.endswith(KEPT) for f in _data_files(rewritten))
    assert _sorted_rows(kept) == _sorted_rows(rewritten)
    assert len(_sorted_rows(kept)) == 1200
    query = "SELECT count(*), count(email), sum(amount), max(seen_at), min(id) FROM t"
    assert duckdb_reader.scan(_table(kept).metadata_location, query) == duckdb_reader.scan(
        _table(rewritten).metadata_location, query
    )
    # The tap's file stays where the tap wrote it (its storage root belongs to the tap's owner).
    assert first.exists() and second.exists()


def test_merge_with_files_kept_replaces_the_rows_of_their_keys(tmp_path: Path) -> None:
    config = _config(tmp_path, write_mode="merge")
    run_target(
        config,
        [schema("items", PROPS, ["id"]), _batch(_file(tmp_path, _rows(range(1, 201)))), state({"s": 1})],
        tmp_path,
    )
    first = set(_data_files(config))
    update = _file(tmp_path, _rows(range(150, 301), "v2"))
    run_target(config, [schema("items", PROPS, ["id"]), _batch(update), state({"s": 2})], tmp_path)

    rows = _sorted_rows(config)
    assert [r["id"] for r in rows] == list(range(1, 301))
    emails = {r["id"]: r["email"] for r in rows}
    assert (emails[149], emails[150], emails[300]) == ("v1-149@x.io", "v2-150@x.io", "v2-300@x.io")
    files = set(_data_files(config))
    assert any(f.endswith(KEPT) for f in files - first)  # the update's file, kept as it is
    assert not first & files  # the first file held keys 150-200: rewritten without them
    assert _table(config).current_snapshot().summary["dativo.singer-state"] == '{"s": 2}'


def test_a_table_partitioned_by_ingest_date_gets_the_file_with_its_partition_value(
    tmp_path: Path,
) -> None:
    kept = _config(tmp_path, "kept", partitioning=["ingest_date"])
    rewritten = _config(tmp_path, "rewritten", partitioning=["ingest_date"], register_batch_files=False)
    messages = [
        schema("items", PROPS, ["id"]),
        _batch(_file(tmp_path, _rows(range(1, 301)))),
        state({"s": 1}),
    ]
    run_target(kept, messages, tmp_path)
    run_target(rewritten, messages, tmp_path)

    assert all(f.endswith(KEPT) for f in _data_files(kept))
    rows = _sorted_rows(kept)
    assert rows == _sorted_rows(rewritten)
    day = rows[0]["ingest_date"]
    assert day is not None and {r["ingest_date"] for r in rows} == {day}
    query = f"SELECT count(*), count(email) FROM t WHERE ingest_date = DATE '{day.isoformat()}'"
    assert duckdb_reader.scan(_table(kept).metadata_location, query) == [(300, 258)]


def test_a_full_replace_stages_files_kept_as_they_are(tmp_path: Path) -> None:
    config = _config(tmp_path)
    run_target(
        config,
        [schema("items", PROPS, ["id"]), _batch(_file(tmp_path, _rows(range(1, 101)))), state({"s": 1})],
        tmp_path,
    )
    activate = {"type": "ACTIVATE_VERSION", "stream": "items", "version": 2}
    replacement = _file(tmp_path, _rows(range(1000, 1050), "v2"))
    run_target(
        config, [schema("items", PROPS, ["id"]), activate, _batch(replacement), state({"s": 2})], tmp_path
    )

    assert [r["id"] for r in _sorted_rows(config)] == list(range(1000, 1050))
    assert all(f.endswith(KEPT) for f in _data_files(config))


@pytest.mark.parametrize("case", ["null key", "duplicate keys", "partitioned", "policy", "other type"])
def test_a_file_a_rewrite_would_change_is_rewritten(tmp_path: Path, case: str) -> None:
    rows = _rows(range(1, 11))
    arrow: pa.Schema | None = None
    extra: dict[str, Any] = {}
    if case == "null key":
        arrow = _stream_schema(["id"]).set(0, pa.field("id", pa.int64(), nullable=True))
        rows[3]["id"] = None
    elif case == "duplicate keys":
        extra["write_mode"] = "merge"
        rows[4] = {**rows[3], "email": "later@x.io"}  # id 4 twice: the later row wins
    elif case == "partitioned":
        extra["partitioning"] = ["bucket(4, id)"]
    elif case == "policy":
        extra["column_policies"] = {"email": "mask"}
    else:  # amount as a float where the stream says decimal
        arrow = _stream_schema(["id"]).set(2, pa.field("amount", pa.float64()))
        for row in rows:
            row["amount"] = float(row["amount"]) if row["amount"] is not None else None
    config = _config(tmp_path, **extra)
    result = run_target(
        config,
        [schema("items", PROPS, ["id"]), _batch(_file(tmp_path, rows, arrow)), state({"s": 1})],
        tmp_path,
    )

    assert not any(f.endswith(KEPT) for f in _data_files(config))
    landed = _sorted_rows(config)
    if case == "null key":
        assert len(landed) == 9 and "required field 'id'" in result.stderr
    elif case == "duplicate keys":
        assert [r["id"] for r in landed] == [1, 2, 3, 4, 6, 7, 8, 9, 10]
        assert landed[3]["email"] == "later@x.io"
    elif case == "partitioned":
        assert [r["id"] for r in landed] == list(range(1, 11))
    elif case == "policy":
        assert all(r["email"] is None or r["email"] != f"v1-{r['id']}@x.io" for r in landed)
    else:
        assert landed[1]["amount"] == Decimal("0.50")


@pytest.mark.parametrize("at_state_only", [False, True], ids=["default", "at-state-only"])
def test_a_file_after_the_last_state_leaves_no_copy_behind(tmp_path: Path, at_state_only: bool) -> None:
    """A clean end of input registers it with the last STATE; commit-at-STATE-only mode leaves
    it out (exit 2) and removes its copy."""
    config = _config(tmp_path, **({"commit_records_after_last_state": False} if at_state_only else {}))
    covered, uncovered = _file(tmp_path, _rows(range(1, 51))), _file(tmp_path, _rows(range(51, 101)))
    result = run_target(
        config,
        [schema("items", PROPS, ["id"]), _batch(covered), state({"s": 1}), _batch(uncovered)],
        tmp_path,
        check=False,
    )

    assert result.returncode == (2 if at_state_only else 0), result.stderr[-3000:]
    expected = range(1, 51) if at_state_only else range(1, 101)
    assert [r["id"] for r in _sorted_rows(config)] == list(expected)
    referenced = {Path(f.removeprefix("file://")).name for f in _data_files(config)}
    on_disk = {p.name for p in (tmp_path / "wh").rglob("*.parquet")}
    assert on_disk == referenced


def test_files_are_copied_into_a_table_on_object_storage(tmp_path: Path, seaweedfs_service: Any) -> None:
    seaweed = seaweedfs_service
    catalog = {
        "type": "rest",
        "uri": seaweed.rest_uri,
        "credential": seaweed.rest_credential,
        "warehouse": seaweed.rest_warehouse,
        **seaweed.s3_props(),
    }
    namespace = f"reg_{uuid.uuid4().hex[:8]}"
    config = {"catalog": catalog, "namespace": namespace, "dead_letter_dir": str(tmp_path / "dead")}
    path = _file(tmp_path, _rows(range(1, 301)))
    run_target(config, [schema("items", PROPS, ["id"]), _batch(path), state({"s": 1})], tmp_path)

    table = load_catalog("dativo", **catalog).load_table(f"{namespace}.items")
    files = [task.file.file_path for task in table.scan().plan_files()]
    assert len(files) == 1 and files[0].startswith("s3://") and files[0].endswith(KEPT)
    landed = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert landed == sorted(pq.read_table(path).to_pylist(), key=lambda r: r["id"])


def test_dativo_run_of_a_csv_job_adds_the_tap_files_as_they_are(project: Project) -> None:
    """The deals asset without its PII column policy: `dativo run` (tap-csv's fast path, an
    ingest_date-partitioned table) keeps the tap's files, and an edited file's new version
    still replaces the old rows in the commit that adds it."""
    asset = project.root / "assets/csv/v1.0/deals.yaml"
    asset.write_text(asset.read_text().replace("      classification: PII\n", ""))
    row = "{0},Deal {0},Acme,won,{0}.50,USD,0.5,true,x@example.com,2024-01-01T00:00:00Z,2024-02-01"
    project.write_deals("a.csv", [row.format(i) for i in range(1, 401)])
    project.write_deals("b.csv", [row.format(i) for i in range(401, 501)])
    job = project.write_job("deals", project.deals_job())
    first = project.dativo("run", "--config", str(job))
    assert first.returncode == 0, first.stderr
    warehouse = {"warehouse_dir": str(project.root / "warehouse")}
    files = [
        t.file.file_path for t in open_catalog(warehouse).load_table("acme.csv_deals").scan().plan_files()
    ]
    assert files and all(f.endswith(KEPT) for f in files)

    project.write_deals("a.csv", [row.format(i) for i in range(1, 301)])  # edited: 100 rows gone
    second = project.dativo("run", "--config", str(job))
    assert second.returncode == 0, second.stderr
    table = open_catalog(warehouse).load_table("acme.csv_deals")
    # The new version's file is kept; a file that also held old rows of a.csv is rewritten by
    # the delete of those rows (copy-on-write), as without registration.
    added = table.current_snapshot().summary.additional_properties
    assert any(
        t.file.file_path.endswith(KEPT) and t.file.file_path not in files for t in table.scan().plan_files()
    )
    rows = table.scan().to_arrow()
    assert sorted(rows.column("deal_id").to_pylist()) == [*range(1, 301), *range(401, 501)]
    assert rows.column("ingest_date").null_count == 0 and added.get("dativo.rows") == "300"
