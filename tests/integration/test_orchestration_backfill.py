"""A partitioned job's backfill through a real `dativo start orchestrated` (webserver and daemon).

Three static slices of one CSV table, ``concurrency_per_tenant: 2`` and ``max_parallel_partitions:
2``: the backfill's runs start side by side, never more than two at once; each partition's
materialization shows its rows and its bookmark; the table holds every row once. About a minute
(a Dagster start): `make test-machines` (DATIVO_MACHINES=1).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
from pathlib import Path
from typing import Any

import pytest
import yaml
from target_iceberg.catalog import open_catalog

from tests.helpers.project import DEALS_HEADER, Project
from tests.integration.test_orchestration_server import (
    TERMINAL,
    Orchestrator,
    _free_port,
    _most_at_once,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("DATIVO_MACHINES"), reason="make test-machines (DATIVO_MACHINES=1)"),
]

SLICES = {"eu": [1, 2, 3], "us": [4, 5], "apac": [6]}
SELECTOR = {"repositoryLocationName": "dativo", "repositoryName": "__repository__"}
BACKFILL = """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }"""
TAGGED_RUNS = """query($k: String!, $v: String!) { runsOrError(filter: {tags: [{key: $k, value: $v}]}) {
  ... on Runs { results { runId } } } }"""
MATERIALIZATIONS = """{ assetOrError(assetKey: {path: ["acme", "csv_deals"]}) { ... on Asset {
  assetMaterializations { partition runId metadataEntries { label
    ... on IntMetadataEntry { intValue } ... on JsonMetadataEntry { jsonString } } } } } }"""


def _start(project: Project) -> Orchestrator:
    port = _free_port()
    log = project.root / "start.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATIVO_HOME", "DAGSTER_HOME")}
    command = [sys.executable, "-m", "dativo_runner", "start", "orchestrated", "--home", str(project.root)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    orchestrator = Orchestrator(project, process, f"http://127.0.0.1:{port}/graphql", log)
    deadline = time.monotonic() + 240
    while True:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            answer = orchestrator.gql(
                f"{{ schedulesOrError(repositorySelector: {_selector()}) {{ __typename }} }}"
            )
            if answer["schedulesOrError"]["__typename"] == "Schedules":
                return orchestrator
        except (urllib.error.URLError, ConnectionError, AssertionError):
            pass
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(1)


def _selector() -> str:
    return '{repositoryLocationName: "dativo", repositoryName: "__repository__"}'


def _backfill_runs(orchestrator: Orchestrator, backfill: str, count: int) -> list[str]:
    """The ids of the backfill's runs, once the daemon has submitted ``count`` of them."""
    deadline = time.monotonic() + 180
    while True:
        found = orchestrator.gql(TAGGED_RUNS, {"k": "dagster/backfill", "v": backfill})["runsOrError"][
            "results"
        ]
        if len(found) >= count:
            return [str(r["runId"]) for r in found]
        assert time.monotonic() < deadline, orchestrator.log.read_text()[-3000:]
        time.sleep(1)


def test_a_backfill_runs_partitions_side_by_side_within_the_limits(project: Project) -> None:
    for key, ids in SLICES.items():
        rows = [f"{i},D{i},C,proposal,{i}.50,USD,0.5,false,o@x.io,2024-01-01T00:00:00Z," for i in ids]
        project.write(f"data/deals/{key}/a.csv", "\n".join([DEALS_HEADER, *rows]) + "\n")
    static = {key: {"path": f"data/deals/{key}/*.csv"} for key in SLICES}
    project.write_job("deals", project.deals_job(partitions={"static": static}))
    body = {
        "type": "dagster",
        "schedules": [{"name": "acme_deals", "config": "jobs/acme/deals.yaml", "cron": "0 0 1 1 *"}],
        "concurrency_per_tenant": 2,
        "max_parallel_partitions": 2,
    }
    project.write("configs/runner.yaml", yaml.safe_dump({"runner": {"orchestrator": body}}))
    orchestrator = _start(project)
    try:
        params = {
            "selector": {"partitionSetName": "acme_deals_job_partition_set", "repositorySelector": SELECTOR},
            "partitionNames": list(SLICES),
        }
        answer = orchestrator.gql(BACKFILL, {"p": params})["launchPartitionBackfill"]
        assert answer["__typename"] == "LaunchBackfillSuccess", answer
        ids = _backfill_runs(orchestrator, answer["backfillId"], len(SLICES))
        runs = orchestrator.wait_for(ids, TERMINAL, timeout=300)
        materializations = orchestrator.gql(MATERIALIZATIONS)["assetOrError"]["assetMaterializations"]
    finally:
        orchestrator.process.send_signal(signal.SIGTERM)
        try:
            orchestrator.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            orchestrator.process.kill()

    assert {r["status"] for r in runs.values()} == {"SUCCESS"}, (runs, orchestrator.log.read_text()[-3000:])
    assert {t["value"] for r in runs.values() for t in r["tags"] if t["key"] == "dagster/partition"} == set(
        SLICES
    )
    assert _most_at_once(list(runs.values())) == 2  # side by side, never more than the limits
    found: dict[str, dict[str, Any]] = {}
    for entry in materializations:
        meta = {m["label"]: m.get("intValue", m.get("jsonString")) for m in entry["metadataEntries"]}
        found[entry["partition"]] = meta
    assert {key: meta["rows"] for key, meta in found.items()} == {k: len(v) for k, v in SLICES.items()}
    for key, meta in found.items():  # each partition's bookmark: the files of its own slice
        files = json.loads(meta["bookmark"])["deals"]["files"]
        assert [Path(f).parent.name for f in files] == [key]
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.csv_deals")
    assert sorted(table.scan().to_arrow().column("deal_id").to_pylist()) == [1, 2, 3, 4, 5, 6]
