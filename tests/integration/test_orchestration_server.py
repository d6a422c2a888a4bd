"""`dativo start orchestrated` for real: Dagster's webserver and daemon on a free loopback port.

One started instance is shared by the module (Dagster takes a while to start); the SIGTERM test
stops it, and the restart test after it starts the project again on the same port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from target_iceberg.catalog import open_catalog

from tests.helpers.project import Project

pytestmark = pytest.mark.integration

ROWS = [
    "1,Acme - Platform,Acme,closed_won,1200.50,USD,1.0,true,ana@example.com,2024-03-01T10:00:00Z,2024-04-01",
    "2,Beta - Seats,Beta,proposal,99.99,EUR,0.5,false,ben@example.com,2024-03-02T11:30:00Z,",
]
# Never due while the test runs.
CRONS = {"acme_deals": "0 0 1 1 *", "acme_deals_eu": "15 0 1 1 *", "globex_deals": "30 4 29 2 *"}
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
RUNS_QUERY = """query($ids: [String!]) { runsOrError(filter: {runIds: $ids}) {
  ... on Runs { results { runId status startTime endTime tags { key value } } } } }"""
LAUNCH = """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


@dataclass
class Orchestrator:
    """The started `dativo start orchestrated` and its project."""

    project: Project
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """One GraphQL request; the ``data`` of the answer."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as error:  # a Python error in a resolver: show it
            raise AssertionError(error.read()[:3000]) from None
        assert "errors" not in answer, answer
        data: dict[str, Any] = answer["data"]
        return data

    def launch(self, job_name: str) -> str:
        """Submit a run of ``job_name`` to the run queue; its id."""
        selector = {
            "repositoryLocationName": "dativo",
            "repositoryName": "__repository__",
            "jobName": job_name,
        }
        result = self.gql(LAUNCH, {"p": {"selector": selector, "runConfigData": {}}})["launchRun"]
        assert result["__typename"] == "LaunchRunSuccess", result
        return str(result["run"]["runId"])

    def runs(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The runs by id."""
        return {r["runId"]: r for r in self.gql(RUNS_QUERY, {"ids": ids})["runsOrError"]["results"]}

    def wait_for(self, ids: list[str], statuses: set[str], timeout: float = 240) -> dict[str, dict[str, Any]]:
        """Poll until every run has one of ``statuses``."""
        deadline = time.monotonic() + timeout
        while True:
            runs = self.runs(ids)
            if len(runs) == len(ids) and all(r["status"] in statuses for r in runs.values()):
                return runs
            assert time.monotonic() < deadline, (runs, self.log.read_text()[-3000:])
            time.sleep(1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture(scope="module")
def orchestrator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orchestrator]:
    project = Project.create(tmp_path_factory.mktemp("orchestrated"))
    project.write_deals("a.csv", ROWS)
    project.write_job("deals", project.deals_job())
    # A second asset (table) of the same tenant: only the tenant's limit keeps its runs apart.
    spec = (
        (project.root / "assets/csv/v1.0/deals.yaml")
        .read_text()
        .replace("name: csv_deals", "name: csv_deals_eu")
    )
    project.write("assets/csv/v1.0/deals_eu.yaml", spec)
    eu = project.deals_job(asset="csv_deals_eu", asset_path="assets/csv/v1.0/deals_eu.yaml")
    project.write_job("deals_eu", eu)
    project.write_job("deals", project.deals_job(tenant_id="globex"), tenant="globex")
    schedules = [
        {"name": "acme_deals", "config": "jobs/acme/deals.yaml", "cron": CRONS["acme_deals"]},
        {"name": "acme_deals_eu", "config": "jobs/acme/deals_eu.yaml", "cron": CRONS["acme_deals_eu"]},
        {"name": "globex_deals", "config": "jobs/globex/deals.yaml", "cron": CRONS["globex_deals"]},
    ]
    orchestrator_block = {"type": "dagster", "schedules": schedules, "concurrency_per_tenant": 1}
    project.write("configs/runner.yaml", yaml.safe_dump({"runner": {"orchestrator": orchestrator_block}}))
    port = _free_port()
    log = project.root / "start.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATIVO_HOME", "DAGSTER_HOME")}
    command = [sys.executable, "-m", "dativo_runner", "start", "orchestrated", "--home", str(project.root)]
    command += ["--runner-config", "configs/runner.yaml", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    started = Orchestrator(project, process, f"http://127.0.0.1:{port}/graphql", log)
    deadline = time.monotonic() + 180
    while True:  # until the webserver answers and the code location is loaded
        assert process.poll() is None, log.read_text()
        try:
            answer = started.gql(
                """{ schedulesOrError(repositorySelector: {repositoryLocationName: "dativo",
                     repositoryName: "__repository__"}) { __typename } }"""
            )
            if answer["schedulesOrError"]["__typename"] == "Schedules":
                break
        except (urllib.error.URLError, ConnectionError, AssertionError):
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(1)
    yield started
    if process.poll() is None:  # a failed test left it running
        tree = _descendants(process.pid)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        for pid in tree:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_graphql_lists_the_schedules_with_their_crons(orchestrator: Orchestrator) -> None:
    data = orchestrator.gql(
        """{ schedulesOrError(repositorySelector: {repositoryLocationName: "dativo",
             repositoryName: "__repository__"}) { ... on Schedules { results {
             name cronSchedule executionTimezone pipelineName scheduleState { status } } } } }"""
    )
    found = {s["name"]: s for s in data["schedulesOrError"]["results"]}
    assert {name: s["cronSchedule"] for name, s in found.items()} == CRONS
    assert {s["executionTimezone"] for s in found.values()} == {"UTC"}
    assert found["acme_deals"]["pipelineName"] == "acme_deals_job"
    assert {s["scheduleState"]["status"] for s in found.values()} == {"RUNNING"}
    dagster_yaml = yaml.safe_load((orchestrator.project.root / "state/.dagster/dagster.yaml").read_text())
    assert dagster_yaml["telemetry"] == {"enabled": False}
    assert dagster_yaml["concurrency"]["runs"]["tag_concurrency_limits"] == [
        {"key": "dativo/tenant", "limit": 1, "value": {"applyLimitPerUniqueValue": True}},
        {"key": "dativo/asset", "limit": 1, "value": {"applyLimitPerUniqueValue": True}},
        {"key": "dativo/table", "limit": 1, "value": {"applyLimitPerUniqueValue": True}},
    ]
    assert dagster_yaml["concurrency"]["pools"] == {"default_limit": 1, "granularity": "run"}


def test_a_second_start_on_the_same_instance_is_refused(orchestrator: Orchestrator) -> None:
    result = orchestrator.project.dativo("start", "orchestrated", "--port", str(_free_port()))

    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "state/.dagster: another `dativo start orchestrated` uses this Dagster instance"
    ), result.stderr


SELECTOR = {"repositoryLocationName": "dativo", "repositoryName": "__repository__"}
DRY_RUN = """mutation($s: ScheduleSelector!, $t: Float) { scheduleDryRun(selectorData: $s, timestamp: $t) {
  ... on DryRunInstigationTick { evaluationResult { runRequests { jobName runConfigYaml
  tags { key value } } } } ... on PythonError { message } } }"""
LAUNCH_MANY = """mutation($p: [ExecutionParams!]!) { launchMultipleRuns(executionParamsList: $p) {
  __typename ... on LaunchMultipleRunsResult { launchMultipleRunsResult {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } } } }"""
BACKFILL = """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
TAGGED_RUNS = """query($k: String!, $v: String!) { runsOrError(filter: {tags: [{key: $k, value: $v}]}) {
  ... on Runs { results { runId } } } }"""


def _asset_graph_run(orchestrator: Orchestrator, *path: str) -> str:
    """What the asset graph's Materialize button sends: the implicit asset job, one asset."""
    selector = {**SELECTOR, "jobName": "__ASSET_JOB", "assetSelection": [{"path": list(path)}]}
    result = orchestrator.gql(LAUNCH, {"p": {"selector": selector, "runConfigData": {}}})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return str(result["run"]["runId"])


def _schedule_tick_run(orchestrator: Orchestrator, schedule: str) -> str:
    """A run of the schedule's evaluated tick, tagged as the scheduler tags its runs."""
    variables = {"s": {**SELECTOR, "scheduleName": schedule}, "t": time.time()}
    tick = orchestrator.gql(DRY_RUN, variables)["scheduleDryRun"]
    [request] = tick["evaluationResult"]["runRequests"]
    tags = [{"key": t["key"], "value": t["value"]} for t in request["tags"]]
    params = {
        "selector": {**SELECTOR, "jobName": request["jobName"] or f"{schedule}_job"},
        "runConfigData": request["runConfigYaml"],
        "executionMetadata": {"tags": [*tags, {"key": "dagster/schedule_name", "value": schedule}]},
    }
    answer = orchestrator.gql(LAUNCH_MANY, {"p": [params]})["launchMultipleRuns"]
    [launched] = answer["launchMultipleRunsResult"]
    assert launched["__typename"] == "LaunchRunSuccess", answer
    return str(launched["run"]["runId"])


def _backfill(orchestrator: Orchestrator, *path: str) -> str:
    """Backfill one asset; the backfill's id."""
    params = {"assetSelection": [{"path": list(path)}], "allPartitions": True}
    answer = orchestrator.gql(BACKFILL, {"p": params})["launchPartitionBackfill"]
    assert answer["__typename"] == "LaunchBackfillSuccess", answer
    return str(answer["backfillId"])


def _backfill_run(orchestrator: Orchestrator, backfill: str) -> str:
    """The id of the run the daemon submits for a backfill (at its next tick: up to 30 s)."""
    deadline = time.monotonic() + 60
    while True:
        found = orchestrator.gql(TAGGED_RUNS, {"k": "dagster/backfill", "v": backfill})
        if found["runsOrError"]["results"]:
            return str(found["runsOrError"]["results"][0]["runId"])
        assert time.monotonic() < deadline, orchestrator.log.read_text()[-3000:]
        time.sleep(0.5)


def _most_at_once(runs: list[dict[str, Any]]) -> int:
    """The most runs in progress at one moment (from their start and end times)."""
    edges = sorted([(r["startTime"], 1) for r in runs] + [(r["endTime"], -1) for r in runs])
    most = current = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        current += step
        most = max(most, current)
    return most


def test_every_way_a_run_starts_obeys_concurrency_per_tenant(orchestrator: Orchestrator) -> None:
    # One tenant's runs started every way at once (the backfill's run comes at the daemon's next
    # tick, while the others are queued or running); another tenant's run beside them.
    backfill = _backfill(orchestrator, "acme", "csv_deals")
    acme = [
        _asset_graph_run(orchestrator, "acme", "csv_deals_eu"),  # the Materialize button
        _schedule_tick_run(orchestrator, "acme_deals"),
        orchestrator.launch("acme_deals_eu_job"),  # the job's Launchpad, GraphQL launchRun
    ]
    other = orchestrator.launch("globex_deals_job")
    acme.append(_backfill_run(orchestrator, backfill))

    runs = orchestrator.wait_for([*acme, other], TERMINAL)

    assert {r["status"] for r in runs.values()} == {"SUCCESS"}, (runs, orchestrator.log.read_text()[-3000:])
    assert _most_at_once([runs[i] for i in acme]) == 1  # concurrency_per_tenant: 1
    # globex is not queued behind acme's chain: it starts before acme's second run does (a shared
    # limit would start it after the three acme runs launched before it). Not "overlaps an acme
    # run": a run of two rows ends within a worker's start-up, so overlap depends on CPU timing.
    acme_starts = sorted(runs[i]["startTime"] for i in acme)
    assert runs[other]["startTime"] < acme_starts[1], (runs[other], acme_starts)
    catalog = open_catalog({"warehouse_dir": str(orchestrator.project.root / "warehouse")})
    for table in ("acme.csv_deals", "acme.csv_deals_eu", "globex.csv_deals"):
        rows = catalog.load_table(table).scan().to_arrow().to_pylist()
        assert sorted(r["deal_id"] for r in rows) == [1, 2], table


def _wait_for_dativo_run(orchestrator: Orchestrator) -> int:
    """The pid of a `dativo run` below the orchestrator, once one runs."""
    deadline = time.monotonic() + 120
    while True:
        for pid in _descendants(orchestrator.process.pid):
            if "dativo_runner run" in _cmdline(pid):
                return pid
        assert time.monotonic() < deadline, orchestrator.log.read_text()[-3000:]
        time.sleep(0.1)


def test_terminating_a_run_stops_dativo_run(orchestrator: Orchestrator) -> None:
    run = orchestrator.launch("globex_deals_job")
    child = _wait_for_dativo_run(orchestrator)

    answer = orchestrator.gql(
        "mutation($id: String!) { terminateRun(runId: $id) { __typename } }", {"id": run}
    )["terminateRun"]

    assert answer["__typename"] == "TerminateRunSuccess", answer
    [ended] = orchestrator.wait_for([run], TERMINAL, timeout=120).values()
    assert ended["status"] in ("CANCELED", "FAILURE")
    assert not _alive(child)
    messages = orchestrator.gql(
        """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection {
             events { ... on MessageEvent { message } } } } }""",
        {"id": run},
    )["logsForRun"]["events"]
    text = "\n".join(e.get("message") or "" for e in messages)
    assert "sending SIGTERM to dativo run" in text, text[-3000:]


def test_sigterm_stops_webserver_daemon_and_every_child(orchestrator: Orchestrator) -> None:
    run = orchestrator.launch("globex_deals_job")
    _wait_for_dativo_run(orchestrator)
    tree = _descendants(orchestrator.process.pid)  # with the run's worker and its `dativo run`
    commands = [_cmdline(pid) for pid in tree]
    assert any("dagster-webserver" in c for c in commands) and any("dagster-daemon" in c for c in commands)
    assert any("dagster api grpc" in c for c in commands)  # the code servers

    before = orchestrator.log.stat().st_size

    orchestrator.process.send_signal(signal.SIGTERM)
    code = orchestrator.process.wait(timeout=90)

    assert code == 0, orchestrator.log.read_text()[-3000:]
    survivors = [(pid, _cmdline(pid)) for pid in tree if _alive(pid)]
    assert survivors == []
    # Quiet: the one line, not the shutdown's tracebacks (those go to DAGSTER_HOME/stop.log).
    after = orchestrator.log.read_bytes()[before:].decode()
    assert "Traceback" not in after, after[-3000:]
    assert after.splitlines()[-1] == "dativo: orchestrated mode stopped (SIGTERM)", after[-3000:]
    assert (orchestrator.project.root / "state/.dagster/stop.log").exists()
    # The interrupted run is recorded as ended, not left "started" in the instance.
    instance = dg.DagsterInstance.from_config(str(orchestrator.project.root / "state" / ".dagster"))
    try:
        record = instance.get_run_by_id(run)
        assert record is not None and record.status.value in ("FAILURE", "CANCELED", "SUCCESS"), record
    finally:
        instance.dispose()


def test_a_restart_at_once_on_the_same_port_serves_when_it_says_so(orchestrator: Orchestrator) -> None:
    # After the SIGTERM above: the port's last connections are still in TIME_WAIT.
    assert orchestrator.process.poll() is not None
    port = orchestrator.url.split(":")[2].split("/")[0]
    command = [
        sys.executable,
        "-m",
        "dativo_runner",
        "start",
        "orchestrated",
        "--home",
        str(orchestrator.project.root),
    ]
    command += ["--host", "127.0.0.1", "--port", port]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert process.stdout is not None
        lines = []
        for raw in process.stdout:  # up to the UI's address (or the end: a refused port)
            lines.append(raw.decode())
            if "Dagster UI at" in lines[-1]:
                break
        assert "Dagster UI at http://127.0.0.1:" + port in lines[-1], "".join(lines)[-3000:]
        # Printed once the UI serves: asked right away, it answers.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5) as answer:
            assert answer.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=90)
    assert process.returncode == 0, rest.decode()[-3000:]
    assert rest.decode().splitlines()[-1] == "dativo: orchestrated mode stopped (SIGTERM)", rest.decode()[
        -3000:
    ]
