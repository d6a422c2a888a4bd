"""Two machines, simulated: one Dagster storage on PostgreSQL, one REST catalog and S3 store, two
workers with their own DAGSTER_HOME and empty state folder running the same tenants' jobs.

Machine A runs `dativo start orchestrated` (webserver, daemon and run queue, its code server);
machine B a code server of its own (``dagster api grpc -m dativo_runner.orchestration``), listed in
A's runner YAML under ``code_servers``: a run launched on B's code location runs on B. Every job is
launched on both machines at once, round after round, with new files between rounds. Checked from
the shared run records and the tables: both machines ran runs, every row landed once (each worker
resumes from the table's bookmark, its own state folder knows nothing of the other's runs), and no
two runs of one tenant overlapped. Takes a few minutes: `make test-machines` (DATIVO_MACHINES=1).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import urllib.error
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import dagster as dg
import psycopg2
import pytest
import yaml
from pyiceberg.catalog import load_catalog

from dativo_runner.home import ProjectHome
from dativo_runner.orchestration.instance import process_environment, write_instance
from dativo_runner.orchestration.runner_yaml import load_runner_config
from tests.helpers.project import DEALS_HEADER, Project
from tests.integration.test_orchestration_server import TERMINAL, Orchestrator, _free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not os.environ.get("DATIVO_MACHINES"), reason="make test-machines (DATIVO_MACHINES=1)"
    ),
]

TENANTS = ("acme", "globex")
ASSETS = ("csv_deals", "csv_deals_eu")
NEVER = "0 0 1 1 *"  # never due while the test runs: every run is launched by the test
ROUNDS = 2
PG_URL_ENV = "DATIVO_TEST_DAGSTER_PG_URL"


def _launch(orchestrator: Orchestrator, location: str, job_name: str) -> str:
    from tests.integration.test_orchestration_server import LAUNCH

    selector = {"repositoryLocationName": location, "repositoryName": "__repository__", "jobName": job_name}
    result = orchestrator.gql(LAUNCH, {"p": {"selector": selector, "runConfigData": {}}})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return str(result["run"]["runId"])


@pytest.fixture
def dagster_database(pg_service: Any) -> Iterator[str]:
    """An empty PostgreSQL database for Dagster's storage; its URL (no password: trust)."""
    name = f"dagster_machines_{uuid.uuid4().hex[:8]}"
    connection = psycopg2.connect(pg_service.dsn)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{pg_service.user}@{pg_service.host}:{pg_service.port}/{name}"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.close()


def _write_file(project: Project, tenant: str, asset: str, name: str, ids: list[int]) -> None:
    rows = [f"{i},D{i},C,proposal,{i}.50,USD,0.5,false,o@x.io,2024-01-01T00:00:00Z," for i in ids]
    project.write(f"data/{tenant}/{asset}/{name}", "\n".join([DEALS_HEADER, *rows]) + "\n")


def _new_files(project: Project, expected: dict[tuple[str, str], list[int]], round_: int) -> None:
    """A new file of three rows for every table; ``expected`` gains their ids."""
    next_id = 1 + sum(len(ids) for ids in expected.values())
    for tenant in TENANTS:
        for asset in ASSETS:
            ids = list(range(next_id, next_id + 3))
            next_id += 3
            _write_file(project, tenant, asset, f"r{round_}.csv", ids)
            expected[(tenant, asset)] += ids


def _home(project: Project, sw: Any, suffix: str, pg_url_env: str, b_port: int) -> dict[str, str]:
    """Jobs of two tenants (two tables each) on the REST catalog; A's and B's runner YAMLs."""
    spec = (project.root / "assets/csv/v1.0/deals.yaml").read_text()
    project.write("assets/csv/v1.0/deals_eu.yaml", spec.replace("name: csv_deals", "name: csv_deals_eu"))
    s3 = {"endpoint": sw.s3_endpoint, "region": sw.region, "access_key_id": sw.access_key}
    s3["secret_access_key"] = sw.secret_key
    namespaces, schedules = {}, []
    for tenant in TENANTS:
        namespaces[tenant] = f"{tenant}_{suffix}"
        for asset in ASSETS:
            target = {
                "namespace": namespaces[tenant],
                "warehouse": sw.rest_warehouse,
                "connection": {"rest": {"uri": sw.rest_uri, "credential": sw.rest_credential}, "s3": s3},
            }
            source = {
                "objects": ["deals"],
                "files": [{"object": "deals", "path": f"data/{tenant}/{asset}/*.csv"}],
            }
            path = f"assets/csv/v1.0/{'deals' if asset == 'csv_deals' else 'deals_eu'}.yaml"
            job = project.deals_job(
                tenant_id=tenant, asset=asset, asset_path=path, source=source, target=target
            )
            project.write_job(asset, job, tenant=tenant)
            schedules.append(
                {"name": f"{tenant}_{asset}", "config": f"jobs/{tenant}/{asset}.yaml", "cron": NEVER}
            )
    storage = {"postgres": {"url_env": pg_url_env}}
    for machine, extra in (
        ("a", {"code_servers": [{"name": "machine_b", "host": "127.0.0.1", "port": b_port}]}),
        ("b", {}),
    ):
        body = {
            "type": "dagster",
            "schedules": [{**s, "enabled": machine == "a"} for s in schedules],
            "concurrency_per_tenant": 1,
            "state_dir": f"machine_{machine}/state",
            "dagster_home": f"machine_{machine}/dagster",
            "storage": storage,
            **extra,
        }
        project.write(f"configs/runner_{machine}.yaml", yaml.safe_dump({"runner": {"orchestrator": body}}))
    return namespaces


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for_locations(orchestrator: Orchestrator, names: set[str]) -> None:
    query = """{ workspaceOrError { ... on Workspace { locationEntries { name
                 locationOrLoadError { __typename } } } } }"""
    deadline = time.monotonic() + 240
    while True:
        assert orchestrator.process.poll() is None, orchestrator.log.read_text()[-3000:]
        try:
            entries = orchestrator.gql(query)["workspaceOrError"]["locationEntries"]
            loaded = {
                e["name"]
                for e in entries
                if (e["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"
            }
            if names <= loaded:
                return
        except (urllib.error.URLError, ConnectionError, AssertionError):
            pass
        assert time.monotonic() < deadline, orchestrator.log.read_text()[-3000:]
        time.sleep(1)


def test_two_machines_share_storage_catalog_and_tenant_limits(
    project: Project, seaweedfs_service: Any, dagster_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PG_URL_ENV, dagster_database)
    b_port, a_port = _free_port(), _free_port()
    namespaces = _home(project, seaweedfs_service, uuid.uuid4().hex[:8], PG_URL_ENV, b_port)
    expected: dict[tuple[str, str], list[int]] = defaultdict(list)
    _new_files(project, expected, 0)
    env = {k: v for k, v in os.environ.items() if k not in ("DATIVO_HOME", "DAGSTER_HOME")}
    home = ProjectHome(project.root)
    # Machine B: its own DAGSTER_HOME (the shared PostgreSQL storage) and state folder.
    b_config = load_runner_config(project.root / "configs/runner_b.yaml", home)
    write_instance(b_config)
    b_env = process_environment(b_config)  # as `dativo start` gives its own processes
    command = [sys.executable, "-m", "dagster", "api", "grpc", "-m", "dativo_runner.orchestration"]
    command += ["-h", "127.0.0.1", "-p", str(b_port), "--location-name", "machine_b"]
    b_log = project.root / "machine_b.log"
    with b_log.open("wb") as out:
        machine_b = subprocess.Popen(
            command, cwd=project.root, env=b_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    a_log = project.root / "machine_a.log"
    command = [sys.executable, "-m", "dativo_runner", "start", "orchestrated", "--home", str(project.root)]
    command += ["--runner-config", "configs/runner_a.yaml", "--host", "127.0.0.1", "--port", str(a_port)]
    with a_log.open("wb") as out:
        machine_a = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    orchestrator = Orchestrator(project, machine_a, f"http://127.0.0.1:{a_port}/graphql", a_log)
    try:
        _wait_for_locations(orchestrator, {"dativo", "machine_b"})
        run_ids: list[str] = []
        for round_ in range(ROUNDS):
            if round_:
                _new_files(project, expected, round_)
            launched = []
            for tenant in TENANTS:  # every job on both machines at once
                for asset in ASSETS:
                    for location in ("dativo", "machine_b") if round_ % 2 == 0 else ("machine_b", "dativo"):
                        launched.append(_launch(orchestrator, location, f"{tenant}_{asset}_job"))
            runs = orchestrator.wait_for(launched, TERMINAL, timeout=600)
            assert {r["status"] for r in runs.values()} == {"SUCCESS"}, (runs, a_log.read_text()[-3000:])
            run_ids += launched
    finally:
        _stop(machine_a)
        _stop(machine_b)

    # The shared run records, read through machine B's own instance.
    instance = dg.DagsterInstance.from_config(str(b_config.dagster_home))
    try:
        records = [r for r in instance.get_run_records() if r.dagster_run.run_id in run_ids]
    finally:
        instance.dispose()
    assert len(records) == len(run_ids)
    by_location = defaultdict(int)
    by_tenant: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for record in records:
        origin = record.dagster_run.remote_job_origin
        by_location[origin.location_name if origin else "?"] += 1
        assert record.start_time is not None and record.end_time is not None
        by_tenant[record.dagster_run.tags["dativo/tenant"]].append((record.start_time, record.end_time))
    assert dict(by_location) == {"dativo": len(run_ids) // 2, "machine_b": len(run_ids) // 2}
    for tenant, spans in by_tenant.items():  # one tenant's runs, across both machines, never overlap
        spans.sort()
        assert all(after[0] >= before[1] for before, after in itertools.pairwise(spans)), tenant
    # Each machine kept its own state folder.
    for machine in ("a", "b"):
        assert sorted(p.name for p in (project.root / f"machine_{machine}/state/acme").glob("*.json")) == [
            "csv_deals.json",
            "csv_deals_eu.json",
        ]
    # Every row once: nothing read twice by the second machine, nothing lost.
    sw = seaweedfs_service
    props = {
        "uri": sw.rest_uri,
        "credential": sw.rest_credential,
        "warehouse": sw.rest_warehouse,
        **sw.s3_props(),
    }
    catalog = load_catalog("rest", type="rest", **props)
    for (tenant, asset), ids in expected.items():
        table = catalog.load_table(f"{namespaces[tenant]}.{asset}")
        assert sorted(table.scan().to_arrow().column("deal_id").to_pylist()) == ids, (tenant, asset)
