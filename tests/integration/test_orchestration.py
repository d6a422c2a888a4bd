"""Orchestrated mode in process: the runner YAML as Dagster definitions, materialized for real.

Each materialization runs `dativo run` through Dagster Pipes (tap-csv | target-iceberg on the
embedded catalog); rows are read back with pyiceberg.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from target_iceberg.catalog import open_catalog

from dativo_runner.errors import ConfigError
from dativo_runner.home import ProjectHome
from dativo_runner.orchestration import build_definitions, load_runner_config
from dativo_runner.orchestration.definitions import asset_keys
from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration

ROW_1 = (
    "1,Acme - Platform,Acme,closed_won,1200.50,USD,1.0,true,ana@example.com,2024-03-01T10:00:00Z,2024-04-01"
)
ROW_2 = "2,Beta - Seats,Beta,proposal,99.99,EUR,0.5,false,ben@example.com,2024-03-02T11:30:00Z,"
ROW_3 = "3,Gamma - Support,Gamma,qualified,0.01,GBP,0.25,no,,2024-03-03T00:00:00Z,"
BAD_ROW = "4,Delta - Y,Delta,proposal,ten dollars,USD,0.5,false,d@example.com,2024-01-01T00:00:00Z,"


def _runner_yaml(project: Project, schedules: list[dict[str, Any]], **orchestrator: Any) -> Path:
    body = {"type": "dagster", "schedules": schedules, "concurrency_per_tenant": 1, **orchestrator}
    return project.write(
        "configs/runner.yaml", yaml.safe_dump({"runner": {"mode": "orchestrated", "orchestrator": body}})
    )


def _defs(project: Project, path: Path) -> dg.Definitions:
    home = ProjectHome(project.root)
    return build_definitions(load_runner_config(path, home))


def _materialize(defs: dg.Definitions, job_name: str) -> tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]:
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def(job_name).execute_in_process(instance=instance, raise_on_error=False)
    return result, instance


def _deals_rows(project: Project, tenant: str = "acme") -> list[int]:
    catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
    table = catalog.load_table(f"{tenant}.csv_deals")
    return sorted(r["deal_id"] for r in table.scan().to_arrow().to_pylist())


def _log_lines(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


def test_repo_runner_yaml_loads_as_definitions() -> None:
    """The repository's own configs/runner.yaml (the product's example) loads and validates."""
    defs = build_definitions(load_runner_config(REPO / "configs" / "runner.yaml", ProjectHome(REPO)))

    schedule = defs.get_schedule_def("acme_csv_deals_hourly")
    assert schedule.cron_schedule == "0 * * * *"
    assert schedule.execution_timezone == "UTC"
    assert asset_keys(defs) == [dg.AssetKey(["acme", "csv_deals"])]
    job = defs.resolve_job_def("acme_csv_deals_hourly_job")
    assert job.tags["dativo/tenant"] == "acme"


def test_multi_tenant_runner_yaml(project: Project) -> None:
    project.write_deals("a.csv", [ROW_1])
    # acme's asset still has the owner placeholder `dativo generate config` writes.
    spec_text = (project.root / "assets/csv/v1.0/deals.yaml").read_text()
    placeholder = spec_text.replace("owner: data-team@example.com", "owner: TODO-owner@example.com")
    project.write("assets/csv/v1.0/deals_todo.yaml", placeholder)
    project.write_job("deals", project.deals_job(asset_path="assets/csv/v1.0/deals_todo.yaml"))
    project.write_job("deals", project.deals_job(tenant_id="globex"), tenant="globex")
    path = _runner_yaml(
        project,
        [
            {"name": "acme_deals", "config": "jobs/acme/deals.yaml", "cron": "15 2 * * *"},
            {
                "name": "globex_deals",
                "config": "jobs/globex/deals.yaml",
                "cron": "*/30 * * * 1-5",
                "timezone": "Europe/Berlin",
                "enabled": False,
            },
        ],
        timezone="America/New_York",
    )
    defs = _defs(project, path)

    assert sorted(k.to_user_string() for k in asset_keys(defs)) == ["acme/csv_deals", "globex/csv_deals"]
    acme = defs.get_schedule_def("acme_deals")
    globex = defs.get_schedule_def("globex_deals")
    assert (acme.cron_schedule, acme.execution_timezone) == ("15 2 * * *", "America/New_York")
    assert (globex.cron_schedule, globex.execution_timezone) == ("*/30 * * * 1-5", "Europe/Berlin")
    assert acme.default_status == dg.DefaultScheduleStatus.RUNNING
    assert globex.default_status == dg.DefaultScheduleStatus.STOPPED
    assert defs.resolve_job_def("globex_deals_job").tags["dativo/tenant"] == "globex"
    spec = defs.resolve_assets_def(dg.AssetKey(["globex", "csv_deals"])).specs_by_key[
        dg.AssetKey(["globex", "csv_deals"])
    ]
    # The asset spec's governance: owner, tags, classification, retention, column schema.
    assert spec.owners == ["data-team@example.com"]
    assert {"sales", "crm"} <= set(spec.tags) and spec.tags["dativo/tenant"] == "globex"
    assert spec.metadata["dativo/classification"] == "PII"
    assert spec.metadata["dativo/retention_days"] == 365
    columns = {c.name: c for c in spec.metadata["dagster/column_schema"].columns}
    assert columns["owner_email"].tags == {"classification": "PII"}
    assert columns["deal_id"].constraints.nullable is False
    todo = defs.resolve_assets_def(dg.AssetKey(["acme", "csv_deals"])).specs_by_key[
        dg.AssetKey(["acme", "csv_deals"])
    ]
    assert todo.owners == []  # a placeholder owns nothing...
    assert todo.metadata["dativo/warning"] == (  # ...and the asset says so
        "assets/csv/v1.0/deals_todo.yaml: governance.owner: TODO-owner@example.com is the "
        "placeholder `dativo generate config` writes; set the dataset's owner"
    )


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (
            {"name": "s", "config": "jobs/acme/deals.yaml", "cron": "61 * * * *"},
            "configs/runner.yaml: runner.orchestrator.schedules[0].cron: '61 * * * *' is not a valid cron",
        ),
        (
            {"name": "s", "config": "jobs/acme/missing.yaml", "cron": "0 * * * *"},
            "configs/runner.yaml: runner.orchestrator.schedules[0].config: jobs/acme/missing.yaml: job file not found",
        ),
        (
            {"name": "s", "config": "jobs/acme/deals.yaml", "cron": "0 * * * *", "timezone": "Mars/Olympus"},
            "configs/runner.yaml: runner.orchestrator.schedules[0].timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            {"name": "s-1", "config": "jobs/acme/deals.yaml", "cron": "0 * * * *"},
            "configs/runner.yaml: runner.orchestrator.schedules[0].name:",
        ),
    ],
)
def test_bad_runner_yaml_is_refused_with_one_line(
    project: Project, schedule: dict[str, Any], expected: str
) -> None:
    project.write_deals("a.csv", [ROW_1])
    project.write_job("deals", project.deals_job())
    path = _runner_yaml(project, [schedule])
    with pytest.raises(ConfigError) as raised:
        load_runner_config(path, ProjectHome(project.root))
    [problem] = raised.value.problems
    assert str(problem).startswith(expected)


def test_invalid_job_refused_by_dativo_start_before_anything_starts(project: Project) -> None:
    project.write_deals("a.csv", [ROW_1])
    project.write_job("deals", project.deals_job(asset="no_such_asset"))
    _runner_yaml(project, [{"name": "s", "config": "jobs/acme/deals.yaml", "cron": "0 * * * *"}])

    result = project.dativo("start", "orchestrated", "--port", "1")

    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("dativo: error: jobs/acme/deals.yaml: ") for line in lines), lines
    assert not (project.root / "state" / ".dagster").exists()


def test_materialization_lands_rows_records_metadata_and_resumes_on_a_new_worker(project: Project) -> None:
    project.write_deals("a.csv", [ROW_1, ROW_2])
    project.write_job("deals", project.deals_job())
    path = _runner_yaml(
        project, [{"name": "acme_deals", "config": "jobs/acme/deals.yaml", "cron": "0 * * * *"}]
    )

    result, instance = _materialize(_defs(project, path), "acme_deals_job")

    assert result.success
    assert _deals_rows(project) == [1, 2]
    [materialization] = result.asset_materializations_for_node("acme__csv_deals")
    meta = materialization.metadata
    assert meta["dagster/row_count"].value == 2 and meta["rows"].value == 2
    assert meta["table"].value == "acme.csv_deals"
    assert meta["status"].value == "succeeded"
    assert meta["duration_seconds"].value > 0
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.csv_deals")
    assert meta["snapshot_id"].value == str(table.current_snapshot().snapshot_id)
    assert meta["location"].value == table.metadata_location
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "no_rejected_records" and check.passed
    # The tap's and target's lines are in Dagster's event log.
    lines = _log_lines(instance, result.run_id)
    assert any("[acme/deals] deals: +2 rows committed" in line for line in lines)
    assert any(line.startswith("[target-iceberg]") for line in lines)

    # A "new machine": an empty state folder; the run resumes from the table's bookmark. One
    # record of the new file cannot be written: the run is partial, and visible as such.
    project.write_deals("b.csv", [ROW_3, BAD_ROW])
    moved = _runner_yaml(
        project,
        [{"name": "acme_deals", "config": "jobs/acme/deals.yaml", "cron": "0 * * * *"}],
        state_dir="other_worker_state",
    )
    result, instance = _materialize(_defs(project, moved), "acme_deals_job")

    assert result.success  # rows landed: a partial run is not a failed one...
    assert _deals_rows(project) == [1, 2, 3]  # nothing read twice
    lines = _log_lines(instance, result.run_id)
    assert any("resuming from the target's committed bookmark" in line for line in lines)
    assert (project.root / "other_worker_state" / "acme" / "deals.json").is_file()
    [materialization] = result.asset_materializations_for_node("acme__csv_deals")
    # The table's rows (all runs), and beside them this run's.
    assert materialization.metadata["dagster/row_count"].value == 3
    assert materialization.metadata["rows"].value == 1
    assert materialization.metadata["status"].value == "partial"
    assert materialization.metadata["exit_code"].value == 1
    assert materialization.metadata["dead_letter_rows"].value == 1
    [check] = result.get_asset_check_evaluations()  # ...but visible as such
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert any("1 record(s) rejected and dead-lettered" in line for line in lines)


def test_failing_job_fails_the_run_with_the_cli_error_line(project: Project) -> None:
    """The job stopped validating after `dativo start` checked it (its files are gone): the code
    location Dagster's processes load still defines its asset, and the run fails with the line
    `dativo run` prints."""
    project.write_deals("a.csv", [ROW_1])
    job = project.write_job("deals", project.deals_job())
    project.write_job("deals", project.deals_job(tenant_id="globex"), tenant="globex")
    path = _runner_yaml(
        project,
        [
            {"name": "acme_deals", "config": "jobs/acme/deals.yaml", "cron": "0 * * * *"},
            {"name": "globex_deals", "config": "jobs/globex/deals.yaml", "cron": "0 * * * *"},
        ],
    )
    shutil.rmtree(project.root / "data" / "deals")
    home = ProjectHome(project.root)
    with pytest.raises(ConfigError):  # what `dativo start orchestrated` refuses...
        load_runner_config(path, home)
    defs = build_definitions(load_runner_config(path, home, strict=False))  # ...a running location keeps

    result, _ = _materialize(defs, "acme_deals_job")
    cli = project.dativo("run", "--config", str(job))

    assert defs.get_schedule_def("globex_deals").cron_schedule == "0 * * * *"  # other tenants unaffected
    assert not result.success
    assert cli.returncode == 2
    [cli_line] = [line for line in cli.stderr.splitlines() if line.startswith("dativo: error: ")]
    assert "no file matches" in cli_line
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_failure_data.user_failure_data.description == cli_line
    assert failure.step_failure_data.user_failure_data.metadata["exit_code"].value == 2
    spec = defs.resolve_assets_def(dg.AssetKey(["acme", "csv_deals"])).specs_by_key[
        dg.AssetKey(["acme", "csv_deals"])
    ]
    assert spec.metadata["dativo/invalid"] == cli_line.removeprefix("dativo: error: ")


def test_instance_on_postgresql_keeps_the_url_out_of_dagster_yaml(
    project: Project, pg_service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg2

    from dativo_runner.orchestration.instance import process_environment, write_instance

    database = f"dagster_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(pg_service.dsn)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {database}")
    try:
        url = f"postgresql://{pg_service.user}@{pg_service.host}:{pg_service.port}/{database}"
        monkeypatch.setenv("DATIVO_TEST_DAGSTER_PG", url)
        project.write_deals("a.csv", [ROW_1])
        project.write_job("deals", project.deals_job())
        path = _runner_yaml(
            project,
            [{"name": "acme_deals", "config": "jobs/acme/deals.yaml", "cron": "0 * * * *"}],
            storage={"postgres": {"url_env": "DATIVO_TEST_DAGSTER_PG"}},
        )

        write_instance(load_runner_config(path, ProjectHome(project.root)))

        text = (project.root / "state/.dagster/dagster.yaml").read_text()
        assert yaml.safe_load(text)["storage"] == {
            "postgres": {"postgres_url": {"env": "DATIVO_TEST_DAGSTER_PG"}}
        }
        assert database not in text
        with psycopg2.connect(url) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = {row[0] for row in cursor.fetchall()}
        conn.close()
        assert {"runs", "event_logs", "jobs"} <= tables  # run, event log and schedule storage

        # A second start on the same storage (a restart, or another machine's DAGSTER_HOME)
        # with another concurrency_per_tenant: the tenant's pool follows it.
        again = _runner_yaml(
            project,
            [{"name": "acme_deals", "config": "jobs/acme/deals.yaml", "cron": "0 * * * *"}],
            storage={"postgres": {"url_env": "DATIVO_TEST_DAGSTER_PG"}},
            concurrency_per_tenant=3,
            dagster_home="machine_b/dagster",
        )
        write_instance(load_runner_config(again, ProjectHome(project.root)))

        # The processes `dativo start` runs write events (Dagster's NOTIFY needs psycopg2).
        config = load_runner_config(again, ProjectHome(project.root))
        monkeypatch.setenv("DATIVO_TEST_DAGSTER_PG", process_environment(config)["DATIVO_TEST_DAGSTER_PG"])
        instance = dg.DagsterInstance.from_config(str(project.root / "machine_b/dagster"))
        try:
            assert instance.event_log_storage.get_concurrency_info("dativo__acme").slot_count == 3

            @dg.asset
            def probe() -> int:
                return 1

            assert dg.materialize([probe], instance=instance).success
        finally:
            instance.dispose()
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()


def test_a_job_whose_run_plan_fails_is_shown_invalid_and_not_scheduled(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job that loads but whose run would be refused (its API key is not set) is defined with
    the reason `dativo validate` gives, and its schedule is not started; the others run as set."""
    repo = Path(__file__).resolve().parents[2]
    (project.root / "jobs" / "acme").mkdir(parents=True, exist_ok=True)
    shutil.copy(repo / "jobs/acme/stripe_customers_to_iceberg.yaml", project.root / "jobs/acme")
    project.write_deals(
        "deals_2024.csv", ["1,A - X,A,proposal,10.00,USD,0.5,false,a@example.com,2024-01-01T00:00:00Z,"]
    )
    project.write_job("deals", project.deals_job())
    monkeypatch.setenv("STRIPE_API_KEY", "")
    path = _runner_yaml(
        project,
        [
            {"name": "acme_deals", "config": "jobs/acme/deals.yaml", "cron": "0 * * * *"},
            {
                "name": "acme_stripe",
                "config": "jobs/acme/stripe_customers_to_iceberg.yaml",
                "cron": "0 * * * *",
            },
        ],
    )
    defs = _defs(project, path)

    assert defs.get_schedule_def("acme_deals").default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.get_schedule_def("acme_stripe").default_status == dg.DefaultScheduleStatus.STOPPED
    key = next(k for k in asset_keys(defs) if k.path[0] == "acme" and "stripe" in k.path[1])
    spec = defs.resolve_assets_def(key).specs_by_key[key]
    assert "STRIPE_API_KEY is not set" in spec.metadata["dativo/invalid"]
    validate = project.dativo(
        "validate", "--config", "jobs/acme/stripe_customers_to_iceberg.yaml", env={"STRIPE_API_KEY": ""}
    )
    assert validate.returncode == 2
    assert spec.metadata["dativo/invalid"] in validate.stderr
