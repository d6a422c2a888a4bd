"""`dativo state show|reset|set` and `dativo inspect` end to end: what a CSV, a PostgreSQL and an
object-target job bookmarked; a reset the next run honours over the table's committed bookmark
(re-read, merged exactly; refused without --force where it would duplicate); set with a checked
value; refusal while a run holds the job's lock; inspect of Iceberg snapshots and of manifests."""

from __future__ import annotations

import datetime as dt
import fcntl
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml
from target_iceberg.catalog import open_catalog

from dativo_runner.cli import main
from tests import services
from tests.helpers import objects
from tests.helpers.databases import create_orders, pg_schema
from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration

ROWS = [f"{i},D{i},C{i},proposal,{i}.50,USD,0.5,false,o{i}@x.io,2024-01-0{i}T00:00:00Z," for i in range(1, 4)]
PG_SECRET = "pg-State-Pass-0815"


def _cli(project: Project, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """`dativo ARGS --home HOME` in this process (the commands that read or change state and
    inspect; `dativo run` goes through a subprocess): exit code, stdout, stderr."""
    saved = dict(os.environ)
    os.environ.pop("DATIVO_HOME", None)
    os.environ.update(env or {})
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main([*args, "--home", str(project.root)])
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return code, out.getvalue(), err.getvalue()


def _ok(project: Project, *args: str, env: dict[str, str] | None = None) -> str:
    code, out, err = _cli(project, *args, env=env)
    assert code == 0, err
    assert "Traceback" not in err
    return out


def _json(project: Project, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return json.loads(_ok(project, *args, "--json", env=env))


def _refused(project: Project, *args: str, env: dict[str, str] | None = None) -> str:
    """Exit 2 with exactly one error line, which is returned."""
    code, out, err = _cli(project, *args, env=env)
    assert code == 2, (out, err)
    errors = [line for line in err.splitlines() if line.startswith("dativo: error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
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
    state_file = project.root / "state/acme/deals.json"

    text = _ok(project, "state", "show", "--config", job)
    assert "state file: state/acme/deals.json" in text
    assert "next run resumes from: the bookmark committed in the target" in text
    assert "stream deals:" in text and "2 file(s), 2 read to the end" in text
    assert "data/deals/a.csv: 2 rows, version " in text and "data/deals/b.csv: 1 rows" in text
    assert "committed in the target: the same" in text

    # The table appends: a full re-read would duplicate, so reset is refused without --force.
    line = _refused(project, "state", "reset", "--config", job)
    assert "acme.csv_deals appends" in line and "merge on deal_id" in line and "--force" in line
    before = state_file.read_bytes()

    # While a run holds the job's lock, reset and run are both refused, and nothing changes.
    with _held(project.root / "state/acme/.deals.lock"):
        line = _refused(project, "state", "reset", "--config", job, "--force")
        assert "state/acme/.deals.lock" in line and "a run of this job is in progress" in line
        result = project.dativo("run", "--config", job)
        assert result.returncode == 2 and "a run of this job is in progress" in result.stderr
    assert state_file.read_bytes() == before

    code, out, err = _cli(project, "state", "reset", "--config", job, "--force")
    assert code == 0 and err.count("acme.csv_deals appends") == 1, err  # the warning, once
    backup = next(x for x in out.splitlines() if "previous bookmarks saved to" in x).rsplit(" ", 1)[-1]
    assert backup.startswith("state/acme/.backups/deals.") and f"--file {backup}" in out
    assert json.loads((project.root / backup).read_text()) == json.loads(before)
    assert json.loads(state_file.read_text())["bookmarks"] == {}

    # Bad input to set: one line, exit 2, nothing written.
    after = state_file.read_bytes()
    assert "no replication key" in _refused(project, "state", "set", "--config", job, "--value", "7")
    assert "not a stream of this job (streams: deals)" in _refused(
        project, "state", "set", "--config", job, "--stream", "nope", "--bookmark", "{}"
    )
    assert state_file.read_bytes() == after

    # Restoring the backup (the undo line reset printed) puts the bookmarks back.
    _ok(project, "state", "set", "--config", job, "--file", backup)
    assert json.loads(state_file.read_text())["bookmarks"] == json.loads(before)["bookmarks"]


def test_reset_of_a_merging_table_rereads_exactly_and_inspect(project: Project) -> None:
    project.write_deals("a.csv", ROWS)
    job = str(project.write_job("deals", project.deals_job(target={"write_mode": "merge"})))
    never = _ok(project, "inspect", "--config", job)
    assert never.strip() == "acme.csv_deals: nothing landed yet (run the job first)"
    assert not (project.root / "warehouse").exists()  # inspecting created nothing

    assert _run(project, Path(job))[0] == 3
    out = _ok(project, "state", "reset", "--config", job, "--stream", "deals")
    assert "reset deals in state/acme/deals.json" in out
    rows, _ = _run(project, Path(job))
    assert rows == 3 and _table_ids(project) == [1, 2, 3]  # re-read, merged on deal_id

    report = _json(project, "inspect", "--config", job, "--limit", "1")
    assert report["rows"] == 3 and len(report["sample"]) == 1 and report["write_mode"] == "merge"
    snaps = report["snapshots"]  # the first append, then the merge's commit(s)
    assert len(snaps) >= 2 and snaps[-1]["head_of"] == "main"
    assert snaps[-1]["snapshot_id"] == report["current_snapshot_id"]
    assert snaps[0]["added_rows"] == 3 and snaps[-1]["total_rows"] == 3
    for snap in snaps:
        (entry,) = snap["bookmark"]["bookmarks"]["deals"]["files"].values()
        assert entry["done"] and entry["rows"] == 3
    assert [c["name"] for c in report["schema"]][:2] == ["deal_id", "deal_name"]
    assert report["partition_spec"] == [
        {"source": "ingest_date", "transform": "identity", "name": "ingest_date"}
    ]

    text = _ok(project, "inspect", "--config", job, "--limit", "2")
    assert text.startswith("acme.csv_deals (iceberg target, write_mode merge)")
    assert "rows: 3" in text and "deal_id: long (required)" in text
    assert "partition spec: identity(ingest_date) as ingest_date" in text
    assert f"snapshots ({len(snaps)}, oldest first):" in text
    assert text.count("bookmark deals: 1 file(s), 1 read to the end") == len(snaps)
    assert "first 2 row(s):" in text and text.count("  deal_id=") == 2


def test_postgres_state_show_set_value_and_reread(project: Project, pg_service: Any) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        create_orders(cursor, f'"{schema}".orders')
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
        stream_name = "orders"

        shown = _json(project, "state", "show", "--config", job, env=env)
        (stream,) = [s for s in shown["streams"] if s["state_file"]]
        assert stream["stream"] == stream_name and stream["same"]
        assert stream["state_file"]["replication_key"] == "updated_at"
        assert PG_SECRET not in json.dumps(shown)

        line = _refused(
            project, "state", "set", "--config", job, "--stream", stream_name, "--value", "yesterday", env=env
        )
        assert "'yesterday' is not a date-time" in line and "--value" in line
        # Move the bookmark back to between rows 1 and 2: the next run reads 2 and 3 again (and
        # not 1); the table merges on order_id, so it still holds each order once.
        between = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=25)).isoformat()
        out = _ok(project, "state", "set", "--config", job, "--value", between, env=env)
        assert "previous bookmarks saved to state/acme/.backups/orders." in out
        rows, stderr = _run(project, Path(job), env)
        assert rows == 2 and "resuming from the bookmark `dativo state set`" in stderr
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
    assert shown["target"] == root and shown["resume_from"] == "committed"
    assert shown["streams"][0]["same"] and shown["streams"][0]["committed"]["files"]
    line = _refused(project, "state", "reset", "--config", job, *secrets)
    assert "only adds files" in line and "--force" in line
