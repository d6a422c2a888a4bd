"""A partitioned job in Dagster, in process: a partitioned asset whose partitions are the job's.

Each partition's materialization runs `dativo run --config F --partition KEY` through Pipes
(tap-csv | target-iceberg on the embedded catalog) and shows its rows and its bookmark; the
schedule asks for every static slice; time windows map to Dagster's daily and monthly
definitions with the CLI's own keys.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import dagster as dg
import pytest
import yaml
from target_iceberg.catalog import open_catalog

from dativo_runner.home import ProjectHome
from dativo_runner.orchestration import build_definitions, load_runner_config
from dativo_runner.orchestration.instance import instance_config
from dativo_runner.orchestration.partitioned import partitions_definition
from dativo_runner.orchestration.runner_yaml import ScheduledJob
from dativo_runner.partitions import job_partitions
from tests.helpers.project import DEALS_HEADER, Project

pytestmark = pytest.mark.integration

REGIONS = {"eu": [1, 2, 3], "us": [4, 5]}


def _write_region(project: Project, region: str, name: str, ids: list[int]) -> None:
    rows = [f"{i},D{i},C,proposal,{i}.50,USD,0.5,false,o@x.io,2024-01-01T00:00:00Z," for i in ids]
    project.write(f"data/deals/{region}/{name}", "\n".join([DEALS_HEADER, *rows]) + "\n")


def _partitioned_project(project: Project) -> Path:
    for region, ids in REGIONS.items():
        _write_region(project, region, "a.csv", ids)
    static = {region: {"path": f"data/deals/{region}/*.csv"} for region in REGIONS}
    project.write_job("deals", project.deals_job(partitions={"static": static}))
    body = {
        "type": "dagster",
        "schedules": [{"name": "acme_deals", "config": "jobs/acme/deals.yaml", "cron": "0 * * * *"}],
        "concurrency_per_tenant": 2,
        "max_parallel_partitions": 2,
    }
    return project.write("configs/runner.yaml", yaml.safe_dump({"runner": {"orchestrator": body}}))


def _rows(project: Project) -> list[int]:
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.csv_deals")
    return sorted(table.scan().to_arrow().column("deal_id").to_pylist())


def test_each_partition_materializes_its_slice_with_rows_and_bookmark(project: Project) -> None:
    path = _partitioned_project(project)
    config = load_runner_config(path, ProjectHome(project.root))
    defs = build_definitions(config)
    job = defs.resolve_job_def("acme_deals_job")

    assert job.partitions_def == dg.StaticPartitionsDefinition(["eu", "us"])
    assert job.tags["dativo/table"] == "acme.csv_deals" and "dativo/asset" not in job.tags
    limits = instance_config(config)["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": "dativo/table", "limit": 2, "value": {"applyLimitPerUniqueValue": True}} in limits

    instance = dg.DagsterInstance.ephemeral()
    materialized: dict[str, Any] = {}
    for key in ("eu", "us"):
        result = job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False)
        assert result.success, key
        [materialization] = result.asset_materializations_for_node("acme__csv_deals")
        assert materialization.partition == key
        materialized[key] = materialization.metadata

    assert _rows(project) == [1, 2, 3, 4, 5]
    assert {key: meta["rows"].value for key, meta in materialized.items()} == {"eu": 3, "us": 2}
    assert {key: meta["partition"].value for key, meta in materialized.items()} == {"eu": "eu", "us": "us"}
    assert materialized["us"]["state_file"].value == "state/acme/deals.us.json"
    eu_files = materialized["eu"]["bookmark"].value["deals"]["files"]
    assert [Path(f).relative_to(project.root / "data/deals").parts[0] for f in eu_files] == ["eu"]

    # A new file of one slice: that partition's run reads it alone; the other finds nothing new.
    _write_region(project, "eu", "b.csv", [6])
    rows = {}
    for key in ("eu", "us"):
        result = job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False)
        [materialization] = result.asset_materializations_for_node("acme__csv_deals")
        rows[key] = materialization.metadata["rows"].value
    assert rows == {"eu": 1, "us": 0}
    assert _rows(project) == [1, 2, 3, 4, 5, 6]


def test_an_unknown_partition_fails_the_run_with_the_cli_line(project: Project) -> None:
    defs = build_definitions(load_runner_config(_partitioned_project(project), ProjectHome(project.root)))
    # The job file now names other slices than the loaded definitions (edited since they loaded).
    static = {"emea": {"path": "data/deals/eu/*.csv"}}
    project.write_job("deals", project.deals_job(partitions={"static": static}))

    result = defs.resolve_job_def("acme_deals_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), partition_key="eu", raise_on_error=False
    )

    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failure.step_failure_data.user_failure_data.description == (  # type: ignore[union-attr]
        "dativo: error: jobs/acme/deals.yaml: partitions: unknown partition 'eu'; valid keys: emea"
    )


def test_the_schedule_asks_for_every_slice(project: Project) -> None:
    defs = build_definitions(load_runner_config(_partitioned_project(project), ProjectHome(project.root)))
    schedule = defs.resolve_schedule_def("acme_deals")
    tick = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    repository = defs.get_repository_def()
    with dg.build_schedule_context(repository_def=repository, scheduled_execution_time=tick) as context:
        requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert sorted(r.partition_key for r in requests) == ["eu", "us"]


def _window_job(window: dict[str, Any]) -> ScheduledJob:
    data = {"partitions": {"time_window": window}}
    job = SimpleNamespace(data=data, partitions=job_partitions(data, file="jobs/acme/orders.yaml"))
    return cast(ScheduledJob, SimpleNamespace(job=job))


@pytest.mark.parametrize(
    ("unit", "kind"),
    [("day", dg.DailyPartitionsDefinition), ("month", dg.MonthlyPartitionsDefinition)],
)
def test_time_windows_are_dagster_time_partitions_with_the_cli_keys(unit: str, kind: type) -> None:
    window = {"column": "created_at", "unit": unit, "start": "2024-01-30", "end": "2024-04-01"}
    scheduled = _window_job(window)
    found = partitions_definition(scheduled)
    assert isinstance(found, kind)
    assert scheduled.job is not None and scheduled.job.partitions is not None
    assert tuple(found.get_partition_keys()) == scheduled.job.partitions.keys
    # Without an end: up to today, as the CLI counts them.
    open_ended = _window_job({**window, "start": "2026-10-01", "end": None})
    open_found = partitions_definition(open_ended)
    assert open_found is not None and open_ended.job is not None and open_ended.job.partitions is not None
    assert tuple(open_found.get_partition_keys()) == open_ended.job.partitions.keys
