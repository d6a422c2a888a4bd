"""Orchestrated runs cancelled or interrupted, on a real `dativo start orchestrated` (Dagster
webserver and daemon): (1) a run terminated through GraphQL's ``terminateRun`` (the UI's Terminate)
mid-load, (2) the dagster-daemon SIGKILLed while a scheduled run is loading, then `dativo start`
started again. Afterwards the interrupted run is recorded as cancelled/failed (never success), no
`dativo run`, tap or target process of it is left, and the next run leaves every row in the table
exactly once.

Each test starts its own instance and loads a CSV large enough to commit several times, so they
cost minutes: they run with `make test-soak` (`DATIVO_SOAK_RUNS` set) or `DATIVO_ORCHESTRATION_SOAK=1`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from target_iceberg.catalog import open_catalog

from tests.helpers.project import Project
from tests.integration.test_exactly_once import _write_big_csv
from tests.integration.test_orchestration_server import (
    TERMINAL,
    Orchestrator,
    _alive,
    _cmdline,
    _descendants,
    _free_port,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not (os.environ.get("DATIVO_SOAK_RUNS") or os.environ.get("DATIVO_ORCHESTRATION_SOAK")),
        reason="minutes long: `make test-soak` (DATIVO_SOAK_RUNS) or DATIVO_ORCHESTRATION_SOAK=1",
    ),
]

ROWS = 60_000
EVERY_MINUTE = "* * * * *"
NEVER = "0 0 1 1 *"


def _project(root: Path, cron: str) -> Project:
    """A home with one big deals CSV (several commits: batches of 5,000 rows) and one schedule."""
    project = Project.create(root)
    _write_big_csv(project, "a.csv", 1, ROWS)
    project.write_job("deals", project.deals_job(target={"batch": {"rows": 5000}}))
    schedule = {"name": "acme_deals", "config": "jobs/acme/deals.yaml", "cron": cron}
    block = {"type": "dagster", "schedules": [schedule], "concurrency_per_tenant": 1}
    project.write("configs/runner.yaml", yaml.safe_dump({"runner": {"orchestrator": block}}))
    return project


def _start(project: Project, log_name: str) -> Orchestrator:
    """`dativo start orchestrated` on a free port, once GraphQL lists the schedules."""
    port = _free_port()
    log = project.root / log_name
    env = {k: v for k, v in os.environ.items() if k not in ("DATIVO_HOME", "DAGSTER_HOME")}
    command = [sys.executable, "-m", "dativo_runner", "start", "orchestrated", "--home", str(project.root),
               "--runner-config", "configs/runner.yaml", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    started = Orchestrator(project, process, f"http://127.0.0.1:{port}/graphql", log)
    deadline = time.monotonic() + 240
    while True:
        assert process.poll() is None, log.read_text()
        try:
            answer = started.gql("""{ schedulesOrError(repositorySelector: {repositoryLocationName: "dativo",
                                    repositoryName: "__repository__"}) { __typename } }""")
            if answer["schedulesOrError"]["__typename"] == "Schedules":
                return started
        except (urllib.error.URLError, ConnectionError, AssertionError):
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(1)


def _stop(orchestrator: Orchestrator) -> None:
    if orchestrator.process.poll() is not None:
        return
    tree = _descendants(orchestrator.process.pid)
    orchestrator.process.send_signal(signal.SIGTERM)
    try:
        orchestrator.process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        orchestrator.process.kill()
    for pid in tree:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def started() -> Iterator[list[Orchestrator]]:
    """Every orchestrator a test starts, stopped afterwards."""
    orchestrators: list[Orchestrator] = []
    yield orchestrators
    for orchestrator in orchestrators:
        _stop(orchestrator)


def _ids(project: Project) -> list[int]:
    catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
    try:
        table = catalog.load_table("acme.csv_deals")
    except Exception:  # not created yet
        return []
    return table.scan(selected_fields=("deal_id",)).to_arrow().column("deal_id").to_pylist()


def _run_processes(root_pid: int) -> dict[int, str]:
    """`dativo run` processes below ``root_pid`` and everything below them (tap, target)."""
    found: dict[int, str] = {}
    for pid in _descendants(root_pid):
        if "dativo_runner run" in _cmdline(pid):
            found[pid] = _cmdline(pid)
            found.update({child: _cmdline(child) for child in _descendants(pid)})
    return found


def _wait_mid_load(orchestrator: Orchestrator, timeout: float = 600) -> dict[int, str]:
    """Once the running `dativo run` has committed some rows but not all: its processes."""
    deadline, seen = time.monotonic() + timeout, {}
    while True:
        seen.update(_run_processes(orchestrator.process.pid))
        committed = len(_ids(orchestrator.project))
        if seen and 0 < committed < ROWS and any("tap" in c for c in seen.values()):
            return seen
        assert committed < ROWS, "the run finished before it could be interrupted"
        assert time.monotonic() < deadline, orchestrator.log.read_text()[-3000:]
        time.sleep(0.2)


def _run_ids(orchestrator: Orchestrator) -> list[str]:
    runs = orchestrator.gql("{ runsOrError { ... on Runs { results { runId } } } }")["runsOrError"]["results"]
    return [r["runId"] for r in runs]


def _assert_exact(project: Project) -> None:
    ids = _ids(project)
    assert len(ids) == ROWS and sorted(ids) == list(range(1, ROWS + 1)), (len(ids), len(set(ids)))


def _assert_gone(processes: dict[int, str]) -> None:
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in processes) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [(pid, cmd) for pid, cmd in processes.items() if _alive(pid)] == []


def test_run_terminated_through_graphql_mid_load(tmp_path: Path, started: list[Orchestrator]) -> None:
    project = _project(tmp_path / "home", NEVER)
    orchestrator = _start(project, "start.log")
    started.append(orchestrator)
    run = orchestrator.launch("acme_deals_job")
    processes = _wait_mid_load(orchestrator)

    answer = orchestrator.gql("mutation($id: String!) { terminateRun(runId: $id) { __typename } }",
                              {"id": run})["terminateRun"]

    assert answer["__typename"] == "TerminateRunSuccess", answer
    [ended] = orchestrator.wait_for([run], TERMINAL, timeout=180).values()
    assert ended["status"] == "CANCELED", ended
    _assert_gone(processes)
    committed = _ids(project)
    assert len(committed) == len(set(committed)) < ROWS  # only whole commits, each row once

    rerun = orchestrator.launch("acme_deals_job")

    assert orchestrator.wait_for([rerun], TERMINAL, timeout=600)[rerun]["status"] == "SUCCESS"
    _assert_exact(project)


def test_daemon_killed_during_a_scheduled_run_then_restarted(tmp_path: Path, started: list[Orchestrator]) -> None:
    project = _project(tmp_path / "home", EVERY_MINUTE)
    orchestrator = _start(project, "start.log")
    started.append(orchestrator)
    processes = _wait_mid_load(orchestrator, timeout=240)  # the schedule's first tick is loading
    runs = orchestrator.runs(_run_ids(orchestrator))  # the next minute's run may be queued behind it
    [interrupted] = [run_id for run_id, run in runs.items() if run["status"] == "STARTED"]
    [daemon] = [p for p in _descendants(orchestrator.process.pid) if "dagster-daemon run" in _cmdline(p)]
    tree = _descendants(orchestrator.process.pid)

    os.kill(daemon, signal.SIGKILL)

    # `dativo start` notices, stops the webserver and every run below it, and says which part died.
    assert orchestrator.process.wait(timeout=120) == 2
    assert "orchestrated mode stopped: dagster-daemon exited" in orchestrator.log.read_text()
    _assert_gone({pid: _cmdline(pid) for pid in tree} | processes)
    committed = _ids(project)
    assert len(committed) == len(set(committed)) < ROWS

    instance = dg.DagsterInstance.from_config(str(project.root / "state" / ".dagster"))
    try:
        record = instance.get_run_by_id(interrupted)
        assert record is not None and record.status.value in ("CANCELED", "FAILURE"), record
    finally:
        instance.dispose()

    restarted = _start(project, "restart.log")  # the same instance, as a service manager would
    started.append(restarted)
    deadline = time.monotonic() + 300
    while True:  # the next scheduled run (every minute) after the restart
        runs = restarted.runs([r for r in _run_ids(restarted) if r != interrupted])
        if any(r["status"] == "SUCCESS" for r in runs.values()):
            break
        assert time.monotonic() < deadline, (runs, restarted.log.read_text()[-3000:])
        time.sleep(2)
    assert restarted.runs([interrupted])[interrupted]["status"] in ("CANCELED", "FAILURE")
    _assert_exact(project)
