"""`dativo run` of a CSV job takes tap-csv's BATCH fast path by default (Parquet files in the
run's folder, removed after the run); killing the tap or the target mid-way and rerunning gives
every row exactly once, and a value that does not parse is dead-lettered with the reason the
RECORD path gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from pyiceberg.exceptions import NoSuchTableError

from tests.helpers.crash import child as _child
from tests.helpers.project import Project
from tests.integration.test_exactly_once import _ids, _write_big_csv

pytestmark = pytest.mark.integration

ROWS = 60_000


def _start(project: Project, job: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dativo_runner", "run", "--config", str(job), "--home", str(project.root)],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("program", ["tap-csv", "target-iceberg"])
def test_killed_fast_path_run_then_rerun_gives_every_row_once(project: Project, program: str) -> None:
    _write_big_csv(project, "big.csv", 1, ROWS)
    job = project.write_job("deals", project.deals_job(target={"batch": {"rows": 4000}}))
    batches = project.root / "state" / "acme" / ".deals.run" / "batches"

    run = _start(project, job)
    deadline = time.monotonic() + 60
    seen: list[str] = []
    while time.monotonic() < deadline and run.poll() is None:
        seen = sorted(p.name for p in batches.glob("*.parquet")) if batches.is_dir() else []
        if len(seen) >= 3:  # a few BATCH files sent, more to come
            pid = _child(run.pid, program)
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    _, stderr = run.communicate(timeout=120)
    assert len(seen) >= 3, "the run wrote no BATCH files"
    assert run.returncode == 2, stderr
    try:
        partial = _ids(project)
    except NoSuchTableError:  # killed before the first commit
        partial = []
    assert len(partial) < ROWS and len(partial) == len(set(partial))

    rerun = project.dativo("run", "--config", str(job))
    assert rerun.returncode == 0, rerun.stderr
    counts = Counter(_ids(project))
    assert set(counts) == set(range(1, ROWS + 1)) and set(counts.values()) == {1}
    assert not batches.parent.exists()  # the run's folder, BATCH files included, is removed


def test_bad_values_are_dead_lettered_with_the_record_paths_reasons(project: Project) -> None:
    project.write_deals(
        "a.csv",
        [
            "1,One,Acme,won,10.50,USD,0.5,true,a@example.com,2024-03-01T10:00:00Z,2024-04-01",
            "2,Two,Acme,won,ten,USD,0.5,true,a@example.com,2024-03-01T10:00:00Z,2024-04-01",
            "3,Three,Acme,won,1.25,USD,0.5,maybe,a@example.com,2024-03-01T10:00:00Z,2024-13-01",
            "4,Four,Acme,won,1.25,USD,0.5,no,a@example.com,2024-03-01 10:00:00,",
        ],
    )
    job = project.write_job("deals", project.deals_job())
    code, summary, stderr = project.run_json("--config", str(job))
    assert code == 1, stderr  # partial: rows 2 and 3 rejected
    assert sorted(_ids(project)) == [1, 4]
    [stream] = summary["streams"]
    lines = [
        json.loads(line)
        for path in Path(stream["dead_letter_path"]).parent.glob("*.jsonl")
        for line in path.read_text().splitlines()
    ]
    reasons = {entry["record"]["deal_id"]: entry["reason"] for entry in lines}
    assert reasons == {
        2: "field 'amount': 'ten' is not a valid decimal128(12, 2)",
        3: "field 'is_won': 'maybe' is not a valid bool",
    }
