"""`dativo maintain`: retention, compaction and snapshot expiry on real tables of the embedded catalog."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform, IdentityTransform
from target_iceberg.catalog import open_catalog

from tests.helpers import duckdb_reader
from tests.helpers.project import Project

pytestmark = pytest.mark.integration

STATE_KEY = "dativo.singer-state"
EVENTS_ASSET = """\
asset:
  name: events
  source_type: csv
  object: events
  version: "1.0"
  schema:
    - {name: event_id, type: integer, required: true}
    - {name: created_at, type: timestamp}
    - {name: ingest_date, type: date}
    - {name: payload, type: string}
  governance:
    owner: data-team@example.com
    retention_days: 30
"""
EVENTS_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.int64(), nullable=False),
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
        pa.field("ingest_date", pa.date32()),
        pa.field("payload", pa.string()),
    ]
)
NOW = dt.datetime.now(dt.timezone.utc)


# --- helpers ---------------------------------------------------------------------------------


def _catalog(project: Project) -> Any:
    return open_catalog({"warehouse_dir": str(project.root / "warehouse")})


def _maintain(project: Project, job: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return project.dativo("maintain", "--config", str(job), *args)


def _maintain_json(project: Project, job: Path, *args: str) -> dict[str, Any]:
    result = _maintain(project, job, "--json", *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _rows(table: Table) -> list[dict[str, Any]]:
    return sorted(
        table.scan().to_arrow().to_pylist(), key=lambda r: json.dumps(r, default=str, sort_keys=True)
    )


def _checksum(rows: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()


def _data_files(table: Table) -> list[str]:
    return sorted(task.file.file_path for task in table.scan().plan_files())


def _files_on_disk(table: Table) -> list[str]:
    root = Path(table.location().removeprefix("file://"))
    return sorted(str(p) for p in root.rglob("*") if p.is_file())


def _events_job(project: Project) -> Path:
    """A valid job whose asset is ``events`` (retention_days 30); its table is acme.events."""
    project.write("assets/csv/v1.0/events.yaml", EVENTS_ASSET)
    project.write("data/events/e.csv", "event_id,created_at,ingest_date,payload\n")
    job = project.deals_job(
        asset="events",
        asset_path="assets/csv/v1.0/events.yaml",
        source={"objects": ["events"], "files": [{"object": "events", "path": "data/events/*.csv"}]},
    )
    return project.write_job("events", job)


def _events_table(project: Project, partition: str | None) -> Table:
    """acme.events built with pyiceberg: partitioned by ``day(created_at)``, ``ingest_date`` or not."""
    catalog = _catalog(project)
    catalog.create_namespace_if_not_exists("acme")
    table = catalog.create_table("acme.events", schema=EVENTS_SCHEMA)
    if partition == "day(created_at)":
        with table.update_spec() as spec:
            spec.add_field("created_at", DayTransform(), "created_at_day")
    elif partition == "ingest_date":
        with table.update_spec() as spec:
            spec.add_field("ingest_date", IdentityTransform(), "ingest_date")
    return table


def _event(event_id: int, age_days: int) -> dict[str, Any]:
    moment = NOW - dt.timedelta(days=age_days)
    return {
        "event_id": event_id,
        "created_at": moment,
        "ingest_date": moment.date(),
        "payload": f"p{event_id}",
    }


def _append(table: Table, rows: list[dict[str, Any]], bookmark: int) -> None:
    table.append(
        pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA),
        snapshot_properties={STATE_KEY: json.dumps({"bookmarks": {"events": {"n": bookmark}}})},
    )


def _bookmark(table: Table) -> str | None:
    snapshot = table.current_snapshot()
    assert snapshot is not None
    return snapshot.summary.get(STATE_KEY) if snapshot.summary else None


def _fill(table: Table, commits: int, ages: tuple[int, ...]) -> None:
    """``commits`` appends, each with one row per age (so every commit touches every partition)."""
    next_id = 0
    for commit in range(commits):
        rows = []
        for age in ages:
            rows.append(_event(next_id, age))
            next_id += 1
        _append(table, rows, commit)


# --- compaction ------------------------------------------------------------------------------


def _deals_rows(batch: int) -> list[str]:
    return [
        f"{batch * 100 + k},Deal {k} - X,Company {k},proposal,{k}.25,USD,0.5,false,"
        f"owner{k}@example.com,2024-0{1 + k % 9}-0{1 + k % 9}T10:00:00Z,2024-12-0{1 + k % 9}"
        for k in range(1, 21)
    ]


def test_compaction_of_cli_runs_keeps_rows_values_and_bookmark(project: Project) -> None:
    job = project.write_job("deals", project.deals_job())
    for batch in range(3):
        project.write_deals(f"batch{batch}.csv", _deals_rows(batch))
        code, _, stderr = project.run_json("--config", str(job))
        assert code == 0, stderr
    table = _catalog(project).load_table("acme.csv_deals")
    files_before, rows_before, bookmark = _data_files(table), _rows(table), _bookmark(table)
    snapshots_before = len(table.metadata.snapshots)
    assert len(files_before) >= 3 and bookmark is not None

    report = _maintain_json(project, job)

    compaction = report["compaction"]
    assert report["table"] == "acme.csv_deals" and report["dry_run"] is False
    assert compaction["applied"] is True
    assert compaction["files_before"] == len(files_before)
    assert compaction["files_rewritten"] == len(files_before)
    assert compaction["rows_rewritten"] == len(rows_before)
    table = _catalog(project).load_table("acme.csv_deals")
    assert compaction["files_after"] == len(_data_files(table)) < len(files_before)
    rows_after = _rows(table)
    assert len(rows_after) == len(rows_before)
    assert _checksum(rows_after) == _checksum(rows_before)
    current = table.current_snapshot()
    assert current is not None and current.snapshot_id == compaction["snapshot_id"]
    assert current.summary.get(STATE_KEY) == bookmark
    assert current.summary.get("dativo.operation") == "compaction"
    # One commit: one new snapshot; nothing expired (every snapshot is younger than a week).
    assert len(table.metadata.snapshots) == snapshots_before + 1
    assert report["expire"]["snapshots_expired"] == 0
    # An independent reader sees the same rows.
    duck = duckdb_reader.scan(table.metadata_location, "SELECT count(*), sum(deal_id), sum(amount) FROM t")
    assert duck[0][0] == len(rows_before)
    assert duck[0][1] == sum(r["deal_id"] for r in rows_before)
    assert duck[0][2] == sum(r["amount"] for r in rows_before)


def test_compaction_per_partition_in_one_commit(project: Project) -> None:
    job = _events_job(project)
    table = _events_table(project, "ingest_date")
    _fill(table, commits=5, ages=(1, 2, 3))  # 3 partitions x 5 files
    _append(table, [_event(1000, 9)], bookmark=99)  # a partition with a single file: left alone
    rows_before, snapshots_before = _rows(table), len(table.metadata.snapshots)
    assert len(_data_files(table)) == 16

    report = _maintain_json(project, job, "--steps", "compaction")

    assert report["retention"] is None and report["expire"] is None
    compaction = report["compaction"]
    assert (compaction["files_before"], compaction["files_after"]) == (16, 4)
    merged = (compaction["files_rewritten"], compaction["files_written"], compaction["partitions"])
    assert merged == (15, 3, 3)
    table.refresh()
    assert len(_data_files(table)) == 4
    assert _checksum(_rows(table)) == _checksum(rows_before)
    assert len(table.metadata.snapshots) == snapshots_before + 1
    assert json.loads(_bookmark(table) or "{}") == {"bookmarks": {"events": {"n": 99}}}
    by_partition: dict[Any, int] = {}
    for task in table.scan().plan_files():
        by_partition[task.file.partition] = by_partition.get(task.file.partition, 0) + 1
    assert sorted(by_partition.values()) == [1, 1, 1, 1]


def test_files_at_or_above_the_target_size_are_left_alone(project: Project) -> None:
    job = _events_job(project)
    table = _events_table(project, None)
    _fill(table, commits=4, ages=(1,))
    location = table.metadata_location

    report = _maintain_json(project, job, "--steps", "compaction", "--target-file-mb", "0.0001")

    assert report["compaction"]["files_rewritten"] == 0
    assert report["compaction"]["files_after"] == report["compaction"]["files_before"] == 4
    table.refresh()
    assert table.metadata_location == location


# --- snapshot expiry -------------------------------------------------------------------------


def test_expire_keeps_newest_snapshots_and_tagged_ones(project: Project) -> None:
    job = _events_job(project)
    table = _events_table(project, None)
    _fill(table, commits=8, ages=(1,))
    snapshots = sorted(table.metadata.snapshots, key=lambda s: s.sequence_number)
    table.manage_snapshots().create_tag(snapshots[1].snapshot_id, "audit").commit()
    rows_before = _rows(table)

    report = _maintain_json(
        project, job, "--steps", "expire", "--keep-snapshots", "3", "--older-than-hours", "0"
    )

    expire = report["expire"]
    counts = (expire["snapshots_before"], expire["snapshots_expired"], expire["snapshots_remaining"])
    assert counts == (8, 4, 4)
    table.refresh()
    kept = {s.snapshot_id for s in table.metadata.snapshots}
    assert kept == {snapshots[1].snapshot_id, *(s.snapshot_id for s in snapshots[-3:])}
    current = table.current_snapshot()
    assert current is not None and current.snapshot_id == snapshots[-1].snapshot_id
    assert _checksum(_rows(table)) == _checksum(rows_before)
    assert _bookmark(table) == snapshots[-1].summary.get(STATE_KEY)
    # Time travel to the tagged snapshot still works: its files were not deleted.
    assert len(table.scan(snapshot_id=snapshots[1].snapshot_id).to_arrow()) == 2


def test_default_age_keeps_recent_snapshots(project: Project) -> None:
    job = _events_job(project)
    table = _events_table(project, None)
    _fill(table, commits=8, ages=(1,))

    report = _maintain_json(project, job, "--steps", "expire", "--keep-snapshots", "1")

    assert report["expire"]["snapshots_expired"] == 0
    assert report["expire"]["snapshots_remaining"] == 8


def test_expire_after_compaction_deletes_only_unreferenced_files(project: Project) -> None:
    job = _events_job(project)
    table = _events_table(project, "day(created_at)")
    _fill(table, commits=6, ages=(1, 2))
    rows_before = _rows(table)

    report = _maintain_json(
        project, job, "--steps", "compaction,expire", "--keep-snapshots", "1", "--older-than-hours", "0"
    )

    assert report["compaction"]["files_before"] == 12 and report["compaction"]["files_after"] == 2
    assert report["expire"]["snapshots_expired"] == 6 and report["expire"]["snapshots_remaining"] == 1
    assert report["expire"]["files_deleted"] > 12
    table.refresh()
    assert _checksum(_rows(table)) == _checksum(rows_before)
    parquet_on_disk = [p for p in _files_on_disk(table) if p.endswith(".parquet")]
    assert sorted(p.removeprefix("file://") for p in _data_files(table)) == parquet_on_disk
    duck = duckdb_reader.scan(table.metadata_location, "SELECT count(*) FROM t")
    assert duck == [(len(rows_before),)]


# --- retention -------------------------------------------------------------------------------


@pytest.mark.parametrize("partition", ["day(created_at)", "ingest_date", None])
def test_retention_deletes_exactly_the_old_rows(project: Project, partition: str | None) -> None:
    job = _events_job(project)
    table = _events_table(project, partition)
    ages = (0, 10, 29, 31, 45, 400)  # retention_days is 30
    _fill(table, commits=3, ages=ages)
    rows_before = _rows(table)
    old = [r for r in rows_before if r["created_at"] < NOW - dt.timedelta(days=30)]
    assert len(old) == 9
    bookmark = _bookmark(table)

    report = _maintain_json(project, job, "--steps", "retention")

    retention = report["retention"]
    column = "created_at" if partition == "day(created_at)" else "ingest_date"
    assert retention["applied"] is True and retention["column"] == column
    assert retention["rows_deleted"] == len(old)
    table.refresh()
    remaining = _rows(table)
    assert _checksum(remaining) == _checksum([r for r in rows_before if r not in old])
    current = table.current_snapshot()
    assert current is not None and current.snapshot_id == retention["snapshot_id"]
    assert current.summary.get(STATE_KEY) == bookmark
    assert current.summary.get("dativo.operation") == "retention"


def test_retention_skipped_without_a_date_column(project: Project) -> None:
    job = _events_job(project)
    catalog = _catalog(project)
    catalog.create_namespace_if_not_exists("acme")
    schema = pa.schema([pa.field("event_id", pa.int64()), pa.field("payload", pa.string())])
    table = catalog.create_table("acme.events", schema=schema)
    table.append(pa.Table.from_pylist([{"event_id": 1, "payload": "x"}], schema=schema))
    location = table.metadata_location

    result = _maintain(project, job, "--steps", "retention")

    assert result.returncode == 0, result.stderr
    assert "retention: no date column; retention skipped" in result.stdout
    table.refresh()
    assert table.metadata_location == location


# --- dry run and errors ----------------------------------------------------------------------


def test_dry_run_reports_and_changes_nothing(project: Project) -> None:
    job = _events_job(project)
    table = _events_table(project, "ingest_date")
    _fill(table, commits=4, ages=(1, 45))
    location, files = table.metadata_location, _files_on_disk(table)

    text = _maintain(project, job, "--dry-run", "--keep-snapshots", "1", "--older-than-hours", "0")
    report = _maintain_json(project, job, "--dry-run", "--keep-snapshots", "1", "--older-than-hours", "0")

    assert text.returncode == 0, text.stderr
    assert "maintenance dry run (nothing changed)" in text.stdout
    assert "4 rows with ingest_date before" in text.stdout and "would be deleted" in text.stdout
    assert "8 data files would become 2" in text.stdout
    assert "3 of 4 would expire" in text.stdout
    assert report["dry_run"] is True
    assert report["retention"]["rows_deleted"] == 4 and report["retention"]["applied"] is False
    assert report["compaction"]["files_after"] == 2 and report["compaction"]["applied"] is False
    assert report["expire"]["snapshots_expired"] == 3 and report["expire"]["applied"] is False
    assert report["expire"]["files_deleted"] > 0
    table.refresh()
    assert table.metadata_location == location
    assert _files_on_disk(table) == files


def test_missing_table_exits_2_with_one_line(project: Project) -> None:
    project.write_deals("a.csv", _deals_rows(0))
    job = project.write_job("deals", project.deals_job())

    result = _maintain(project, job)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "dativo: error: jobs/acme/deals.yaml: target: "
        "table acme.csv_deals not found in the Iceberg catalog (run the job first)"
    ]


def test_unreachable_catalog_exits_2_with_one_line(project: Project) -> None:
    project.write_deals("a.csv", _deals_rows(0))
    catalog = {"type": "rest", "uri": "http://127.0.0.1:9/catalog"}
    job = project.write_job("deals", project.deals_job(target={"catalog": catalog}))

    result = _maintain(project, job, "--json")

    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "dativo: error: jobs/acme/deals.yaml: target: cannot open Iceberg catalog (type rest)"
    )


def test_compaction_racing_a_concurrent_append_changes_nothing(project: Project) -> None:
    from target_iceberg.maintenance import compact_files

    from dativo_singer.errors import FatalError

    table = _events_table(project, None)
    _fill(table, commits=4, ages=(1,))
    other = _catalog(project).load_table("acme.events")
    _append(other, [_event(500, 1)], bookmark=50)  # lands after `table` was loaded
    parquet = [p for p in _files_on_disk(other) if p.endswith(".parquet")]

    with pytest.raises(
        FatalError, match=r"^compaction of acme\.events failed: .*\(nothing was changed; rerun\)$"
    ):
        compact_files(table, 128 << 20)

    other.refresh()
    assert [p for p in _files_on_disk(other) if p.endswith(".parquet")] == parquet
    assert len(_data_files(other)) == 5 and len(_rows(other)) == 5
    assert json.loads(_bookmark(other) or "{}") == {"bookmarks": {"events": {"n": 50}}}


# --- orphan files ------------------------------------------------------------------------------


def test_orphan_files_of_a_killed_writer_are_deleted_once_old_enough(project: Project) -> None:
    job = _events_job(project)
    table = _events_table(project, None)
    _fill(table, commits=2, ages=(1,))
    rows_before, referenced = _rows(table), _data_files(table)
    root = Path(table.location().removeprefix("file://"))
    orphan_data = root / "data" / "00000-killed-writer.parquet"
    orphan_data.write_bytes(Path(referenced[0].removeprefix("file://")).read_bytes())
    orphan_manifest = root / "metadata" / "killed-writer-m0.avro"
    orphan_manifest.write_bytes(b"not referenced")
    metadata_files = sorted(p for p in root.joinpath("metadata").iterdir() if p.name.endswith(".metadata.json"))

    recent = _maintain_json(project, job, "--steps", "expire")  # default age: a week
    assert recent["orphans"]["recent_orphans"] == 2 and recent["orphans"]["orphans"] == []
    assert orphan_data.exists() and orphan_manifest.exists()

    dry = _maintain(project, job, "--dry-run", "--steps", "expire", "--older-than-hours", "0")
    assert dry.returncode == 0, dry.stderr
    assert "orphan files:" in dry.stdout and "would delete 2 no snapshot references" in dry.stdout
    assert orphan_data.exists() and orphan_manifest.exists()

    report = _maintain_json(project, job, "--steps", "expire", "--keep-snapshots", "5", "--older-than-hours", "0")
    assert sorted(report["orphans"]["orphans"]) == sorted([str(orphan_data), str(orphan_manifest)])
    assert report["orphans"]["deleted"] == 2
    assert not orphan_data.exists() and not orphan_manifest.exists()
    table.refresh()
    assert _rows(table) == rows_before and _data_files(table) == referenced
    assert all(p.exists() for p in metadata_files)  # table metadata is never an orphan
    assert duckdb_reader.scan(table.metadata_location, "SELECT count(*) FROM t") == [(len(rows_before),)]


def test_orphan_files_on_s3_behind_the_rest_catalog(tmp_path: Path, seaweedfs_service: Any) -> None:
    sw = seaweedfs_service
    project = Project.create(tmp_path / "home")
    namespace = f"acme_orphans_{uuid.uuid4().hex[:8]}"
    target = {
        "namespace": namespace,
        "warehouse": sw.rest_warehouse,
        "connection": {
            "rest": {"uri": sw.rest_uri, "credential": "${REST_CREDENTIAL}"},
            "s3": {
                "endpoint": sw.s3_endpoint,
                "region": sw.region,
                "access_key_id": sw.access_key,
                "secret_access_key": "${S3_SECRET}",
            },
        },
    }
    env = {"REST_CREDENTIAL": sw.rest_credential, "S3_SECRET": sw.secret_key}
    project.write_deals("a.csv", [f"{n},Deal {n},Acme,won,1.00,USD,0.5,true,o@x.io,2024-01-01T00:00:00Z," for n in (1, 2)])
    job = project.write_job("deals", project.deals_job(target=target))
    assert (run := project.dativo("run", "--config", str(job), env=env)).returncode == 0, run.stderr
    props = {"type": "rest", "uri": sw.rest_uri, "credential": sw.rest_credential, "warehouse": sw.rest_warehouse}
    table = open_catalog({"catalog": {**props, **sw.s3_props()}}).load_table(f"{namespace}.csv_deals")
    orphan = f"{table.location().rstrip('/')}/data/00000-killed-writer.parquet"
    with table.io.new_output(orphan).create() as out:
        out.write(b"a file no snapshot names")

    result = project.dativo("maintain", "--config", str(job), "--json", "--steps", "expire", "--older-than-hours", "0", env=env)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["orphans"]
    assert report["deleted"] == 1 and [o.rsplit("/", 1)[1] for o in report["orphans"]] == ["00000-killed-writer.parquet"]
    assert not table.io.new_input(orphan).exists()
    table.refresh()
    assert sorted(table.scan().to_arrow().column("deal_id").to_pylist()) == [1, 2]
