"""`dativo state show|reset|set` and `dativo inspect` end to end: what a CSV, a PostgreSQL and an
object-target job bookmarked; a reset the next run honours over the table's committed bookmark
(re-read, merged exactly; refused without --force where it would duplicate); set with a checked
value; refusal while a run holds the job's lock; inspect of Iceberg snapshots and of manifests."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from target_iceberg.catalog import open_catalog

from tests import services
from tests.helpers import objects
from tests.helpers.databases import pg_schema
from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration

ROWS = [f"{i},D{i},C{i},proposal,{i}.50,USD,0.5,false,o{i}@x.io,2024-01-0{i}T00:00:00Z," for i in range(1, 4)]
PG_SECRET = "pg-State-Pass-0815"


def _ok(project: Project, *args: str, env: dict[str, str] | None = None) -> str:
    result = project.dativo(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def _json(project: Project, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return json.loads(_ok(project, *args, "--json", env=env))


def _refused(project: Project, *args: str, env: dict[str, str] | None = None) -> str:
    """Exit 2 with exactly one error line, which is returned."""
    result = project.dativo(*args, env=env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("dativo: error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    return errors[0]


def _table_ids(project: Project, table: str = "acme.csv_deals") -> list[int]:
    catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
    return sorted(r["deal_id"] for r in catalog.load_table(table).scan().to_arrow().to_pylist())


def _run(project: Project, job: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    code, summary, stderr = project.run_json("--config", str(job), env=env)
    assert code == 0, stderr[-3000:]
    return summary["streams"][0]["rows"], stderr


@contextmanager
def _held(lock: Path) -> Iterator[None]:
    """The job's lock held as a running `dativo run` holds it."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


def test_csv_state_show_reset_refusal_force_set_and_lock(project: Project) -> None:
    project.write_deals("a.csv", ROWS[:2])
    project.write_deals("b.csv", ROWS[2:])
    job = str(project.write_job("deals", project.deals_job()))
    assert _run(project, Path(job))[0] == 3

    text = _ok(project, "state", "show", "--config", job)
    assert "state file: state/acme/deals.json" in text
    assert "next run resumes from: the bookmark committed in the target" in text
    assert "2 file(s), 2 read to the end" in text and "data/deals/a.csv: 2 rows" in text
    assert "committed in the target: the same" in text
    shown = _json(project, "state", "show", "--config", job)
    (stream,) = shown["streams"]
    assert stream["stream"] == "deals" and stream["same"] and shown["resume_from"] == "committed"
    assert sorted(Path(p).name for p in stream["state_file"]["files"]) == ["a.csv", "b.csv"]
    assert all(entry["done"] for entry in stream["committed"]["files"].values())

    # The table appends: a full re-read would duplicate, so reset is refused without --force.
    line = _refused(project, "state", "reset", "--config", job)
    assert "acme.csv_deals appends" in line and "merge on deal_id" in line and "--force" in line
    before = (project.root / "state/acme/deals.json").read_bytes()

    # While a run holds the job's lock, reset and run are both refused, and nothing changes.
    with _held(project.root / "state/acme/.deals.lock"):
        line = _refused(project, "state", "reset", "--config", job, "--force")
        assert "state/acme/.deals.lock" in line and "a run of this job is in progress" in line
        line = _refused(project, "run", "--config", job)
        assert "a run of this job is in progress" in line
    assert (project.root / "state/acme/deals.json").read_bytes() == before

    result = project.dativo("state", "reset", "--config", job, "--force")
    assert result.returncode == 0, result.stderr
    assert "acme.csv_deals appends" in result.stderr  # the warning, once
    backup_line = next(line for line in result.stdout.splitlines() if "previous bookmarks saved to" in line)
    backup = backup_line.rsplit(" ", 1)[-1]
    assert backup.startswith("state/acme/.backups/deals.")
    assert json.loads((project.root / backup).read_text()) == json.loads(before)
    assert _json(project, "state", "show", "--config", job)["resume_from"] == "override"

    # The next run reads every file again although the table's bookmark says they were read:
    # the rows land twice, as the warning said.
    rows, stderr = _run(project, Path(job))
    assert rows == 3 and "resuming from the bookmark `dativo state reset`" in stderr
    assert _table_ids(project) == [1, 1, 2, 2, 3, 3]
    assert _json(project, "state", "show", "--config", job)["resume_from"] == "committed"

    # Bad input to set: one line, exit 2, nothing written.
    after = (project.root / "state/acme/deals.json").read_bytes()
    assert "no replication key" in _refused(project, "state", "set", "--config", job, "--value", "7")
    assert "--bookmark: must be a JSON object" in _refused(
        project, "state", "set", "--config", job, "--bookmark", "[1]"
    )
    assert "not a stream of this job" in _refused(
        project, "state", "set", "--config", job, "--stream", "nope", "--bookmark", "{}"
    )
    assert (project.root / "state/acme/deals.json").read_bytes() == after

    # Restoring the backup (the undo line reset printed): the next run reads nothing.
    _ok(project, "state", "set", "--config", job, "--file", backup)
    rows, _ = _run(project, Path(job))
    assert rows == 0 and _table_ids(project) == [1, 1, 2, 2, 3, 3]


def test_reset_of_a_merging_table_rereads_exactly_and_inspect(project: Project) -> None:
    project.write_deals("a.csv", ROWS)
    job = str(project.write_job("deals", project.deals_job(target={"write_mode": "merge"})))
    never = _ok(project, "inspect", "--config", job)
    assert never.strip() == "acme.csv_deals: nothing landed yet (run the job first)"
    assert _json(project, "inspect", "--config", job)["exists"] is False
    assert not (project.root / "warehouse").exists()  # inspecting created nothing

    assert _run(project, Path(job))[0] == 3
    out = _ok(project, "state", "reset", "--config", job, "--stream", "deals")
    assert "reset deals in state/acme/deals.json" in out
    rows, _ = _run(project, Path(job))
    assert rows == 3 and _table_ids(project) == [1, 2, 3]  # re-read, merged on deal_id

    text = _ok(project, "inspect", "--config", job, "--limit", "2")
    assert text.startswith("acme.csv_deals (iceberg target, write_mode merge)")
    assert "rows: 3" in text and "deal_id: long" in text
    assert "partition spec: identity(ingest_date) as ingest_date" in text
    assert text.count("bookmark deals: 1 file(s), 1 read to the end") == 2
    assert "first 2 row(s):" in text and text.count("  deal_id=") == 2
    report = _json(project, "inspect", "--config", job, "--limit", "1")
    assert report["rows"] == 3 and len(report["sample"]) == 1 and report["write_mode"] == "merge"
    snaps = report["snapshots"]
    assert len(snaps) == 2 and snaps[-1]["head_of"] == "main"
    assert snaps[-1]["snapshot_id"] == report["current_snapshot_id"]
    assert [s["added_rows"] for s in snaps] == [3, 3]
    for snap in snaps:
        (entry,) = snap["bookmark"]["bookmarks"]["deals"]["files"].values()
        assert entry["done"] and entry["rows"] == 3
    assert [c["name"] for c in report["schema"]][:2] == ["deal_id", "deal_name"]


def test_postgres_state_show_set_value_and_reread(project: Project, pg_service: Any) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(
            f'CREATE TABLE "{schema}".orders (order_id bigint PRIMARY KEY, customer_id bigint NOT NULL, '
            "status text, amount numeric(12,2), currency char(3), customer_email text, "
            "created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)"
        )
        for i, age in ((1, "30 days"), (2, "20 days"), (3, "10 days")):
            cursor.execute(
                f"INSERT INTO \"{schema}\".orders VALUES (%s, 1, 'new', 1.00, 'USD', NULL, "
                "now() - interval %s, now() - interval %s)",
                (i, age, age),
            )
        data = yaml.safe_load((REPO / "jobs/acme/postgres_orders_to_iceberg.yaml").read_text())
        data["source"]["objects"] = [f"{schema}.orders"]
        data["source"]["incremental"].pop("lookback_days")
        job = str(project.write_job("orders", data))
        env = {
            "PG_HOST": pg_service.host,
            "PG_PORT": str(pg_service.port),
            "PG_USER": pg_service.user,
            "PG_DATABASE": pg_service.db,
            "PG_PASSWORD": PG_SECRET,
        }
        assert _run(project, Path(job), env)[0] == 3
        stream_name = f"{schema}-orders"

        shown = _json(project, "state", "show", "--config", job, env=env)
        (stream,) = [s for s in shown["streams"] if s["state_file"]]
        assert stream["stream"] == stream_name and stream["same"]
        assert stream["state_file"]["replication_key"] == "updated_at"
        text = _ok(project, "state", "show", "--config", job, env=env)
        assert "replication key updated_at = " in text

        line = _refused(
            project, "state", "set", "--config", job, "--stream", stream_name, "--value", "yesterday", env=env
        )
        assert "'yesterday' is not a date-time" in line and "--value" in line
        # Move the bookmark back to before rows 2 and 3: the next run reads them again; the table
        # merges on order_id, so it still holds each order once.
        out = _ok(
            project,
            "state",
            "set",
            "--config",
            job,
            "--stream",
            stream_name,
            "--value",
            "2000-01-01T00:00:00Z",
            env=env,
        )
        assert "previous bookmarks saved to state/acme/.backups/orders." in out
        after = _json(project, "state", "show", "--config", job, env=env)
        value = next(s for s in after["streams"] if s["stream"] == stream_name)["resumes_from"]
        assert value["replication_key_value"] == "2000-01-01T00:00:00+00:00"
        rows, _ = _run(project, Path(job), env)
        assert rows == 3
        catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
        ids = sorted(
            r["order_id"] for r in catalog.load_table("acme.db_orders").scan().to_arrow().to_pylist()
        )
        assert ids == [1, 2, 3]
        for path in project.files_under("state"):
            assert PG_SECRET not in path.read_text(errors="replace")


def test_objects_target_state_and_inspect_manifests(project: Project) -> None:
    sw = services.seaweedfs()
    project.write("secrets/acme/store.env", f"S3_SECRET={sw.secret_key}\n")
    project.write_deals("a.csv", ROWS)
    prefix = objects.unique_prefix("inspect")
    connection = {
        "s3": {
            "bucket": objects.s3_bucket().name,
            "prefix": prefix,
            "endpoint": sw.s3_endpoint,
            "region": sw.region,
            "access_key_id": sw.access_key,
            "secret_access_key": "${S3_SECRET}",
        }
    }
    data = project.deals_job(
        target_connector="s3",
        target_connector_path="connectors/targets/s3.yaml",
        target={"connection": connection},
    )
    job = str(project.write_job("deals_s3", data))
    secrets = ("--secrets-dir", "secrets")
    code, _, stderr = project.run_json("--config", job, *secrets)
    assert code == 0, stderr
    root = f"s3://{objects.s3_bucket().name}/{prefix}/acme/deals/"

    text = _ok(project, "inspect", "--config", job, *secrets, "--limit", "2")
    assert text.startswith(f"{root} (s3 target, write_mode append)")
    assert f"manifests: {root}_manifests/" in text and "rows: 3" in text
    assert "bookmark deals: 1 file(s), 1 read to the end" in text
    assert "first 2 row(s):" in text and sw.secret_key not in text
    report = _json(project, "inspect", "--config", job, *secrets)
    (manifest,) = report["manifests"]
    assert manifest["manifest"].startswith(f"{root}_manifests/") and manifest["rows"] == 3
    assert manifest["files"][0]["url"].startswith(root) and manifest["files"][0]["rows"] == 3
    assert manifest["bookmark"]["bookmarks"]["deals"]["files"]
    assert report["rows"] == 3 and len(report["sample"]) == 3

    shown = _json(project, "state", "show", "--config", job, *secrets)
    assert shown["target"] == root and shown["streams"][0]["same"]
    line = _refused(project, "state", "reset", "--config", job, *secrets)
    assert "only adds files" in line and "--force" in line
