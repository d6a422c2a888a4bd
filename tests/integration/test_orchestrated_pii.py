"""A job run by Dagster whose asset has a PII-classified column (hashed by the policy), one of its
rows rejected by the value contract: the raw classified values are in no event of Dagster's event
log, no run record, no state file, log, dead letter or table of the run; only their hashes are."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from tests.helpers.project import Project
from tests.helpers.secret_scan import SecretScan

pytestmark = pytest.mark.integration

GOOD_EMAIL = "ada.lovelace.pii@example.com"
REJECTED_EMAIL = "grace.hopper.pii@example.com"
SALT = "orchestrated-pii-salt-7"
CLOSED = "1906-12-09"  # the rejected row's close_date, classified PII in this test's asset
ROWS = [
    f"1,Deal 1,A,proposal,10.00,USD,0.5,false,{GOOD_EMAIL},2024-01-01T00:00:00Z,",
    f"2,Deal 2,B,proposal,not-a-number,USD,0.5,false,{REJECTED_EMAIL},2024-01-01T00:00:00Z,{CLOSED}",
]


def _orchestrate(project: Project) -> Path:
    project.write("secrets/acme/policy.env", f"DATIVO_HASH_SALT={SALT}\n")
    project.write_deals("a.csv", ROWS)
    asset = project.root / "assets/csv/v1.0/deals.yaml"
    asset.write_text(asset.read_text().replace("type: date\n", "type: date\n      classification: PII\n"))
    project.write_job("deals", project.deals_job())
    runner = {
        "type": "dagster",
        "schedules": [{"name": "deals", "config": "jobs/acme/deals.yaml", "cron": "0 * * * *"}],
        "concurrency_per_tenant": 1,
        "secrets_dir": "secrets",
    }
    return project.write(
        "configs/runner.yaml", yaml.safe_dump({"runner": {"mode": "orchestrated", "orchestrator": runner}})
    )


def test_dagster_keeps_no_raw_classified_value(project: Project) -> None:
    import dagster as dg
    from dagster._serdes import serialize_value
    from target_iceberg.catalog import open_catalog

    from dativo_runner.home import ProjectHome
    from dativo_runner.orchestration import build_definitions, load_runner_config

    defs = build_definitions(load_runner_config(_orchestrate(project), ProjectHome(project.root)))
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def("deals_job").execute_in_process(instance=instance, raise_on_error=False)

    scan = SecretScan(
        {"good row's e-mail": GOOD_EMAIL, "rejected row's e-mail": REJECTED_EMAIL, "its close date": CLOSED}
    )
    events = instance.all_logs(result.run_id)
    scan.text("run record", serialize_value(instance.get_run_by_id(result.run_id)))
    for event in events:
        scan.text(f"event {event.dagster_event_type or 'log'}", serialize_value(event))
    for folder in sorted(
        p for p in project.root.iterdir() if p.is_dir() and p.name not in ("data", "secrets")
    ):
        scan.tree(folder)
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.csv_deals")
    scan.iceberg(table)
    scan.assert_clean(minimum_places=10)

    # The run did what the scan relies on: one row landed hashed, one dead-lettered.
    rows = table.scan().to_arrow().to_pylist()
    assert [r["deal_id"] for r in rows] == [1]
    assert rows[0]["owner_email"] == hashlib.sha256(f"{SALT}{GOOD_EMAIL}".encode()).hexdigest()
    letters = [p for p in project.root.rglob("*.jsonl") if "dead" in str(p)]
    assert letters and "not-a-number" in "".join(p.read_text() for p in letters)
    assert any("dead_letter_rows" in serialize_value(event) for event in events)
    control = SecretScan({"rejected row's e-mail": REJECTED_EMAIL})
    control.tree(project.root / "data")
    assert control.findings  # the scan finds the value where it is: in the source file
