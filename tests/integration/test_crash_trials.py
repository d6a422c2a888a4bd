"""Crash trials: a run stopped at a random moment, in every way a run is stopped, then rerun,
gives every row exactly once.

Each trial adds a fresh CSV file, starts `dativo run` in its own session (as a container or an
orchestrator would) and stops it after a seeded random delay by one of: SIGKILL to the whole
process group, SIGTERM to the runner, SIGKILL to the runner alone, SIGKILL to the tap, SIGKILL to
the target. After every trial the table must hold no duplicate; after a final clean rerun it must
hold every written id exactly once. `DATIVO_CRASH_TRIALS` (default 20) and `DATIVO_CRASH_SEED`
change the count and the draw; `make test-crash` runs 100.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers.project import Project
from tests.integration.test_exactly_once import _children, _ids, _write_big_csv

pytestmark = pytest.mark.integration

TRIALS = int(os.environ.get("DATIVO_CRASH_TRIALS") or 20)
SEED = int(os.environ.get("DATIVO_CRASH_SEED") or 20261128)
ROWS_PER_FILE = 8_000
WAYS = ("group-kill", "runner-sigterm", "runner-kill", "tap-kill", "target-kill")


def _child(runner: int, program: str) -> int | None:
    for pid in _children(runner):
        try:
            if program.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except FileNotFoundError:
            continue
    return None


def _stop(run: subprocess.Popen[str], way: str) -> bool:
    """Stop the run the chosen way; False when the run (or the child) had already ended."""
    if run.poll() is not None:
        return False
    if way == "group-kill":
        os.killpg(run.pid, signal.SIGKILL)
    elif way == "runner-sigterm":
        os.kill(run.pid, signal.SIGTERM)
    elif way == "runner-kill":
        os.kill(run.pid, signal.SIGKILL)
    else:
        pid = _child(run.pid, "tap-csv" if way == "tap-kill" else "target-iceberg")
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
    return True


def _wait_for_pipe(run: subprocess.Popen[str]) -> None:
    """Until the runner has started its tap (or ended): on a loaded machine the interpreter's
    start-up alone can outlast a fixed sleep, and a runner stopped before it installed its
    signal handlers has nothing to clean up, so such a trial proves nothing."""
    deadline = time.monotonic() + 60
    while run.poll() is None and time.monotonic() < deadline:
        if _child(run.pid, "tap-csv") is not None:
            return
        time.sleep(0.05)


def _no_orphans(run_pid: int) -> None:
    """Nothing the run started outlives it (the children die with the runner)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == run_pid and fields[0] != "Z":  # process group == the run's session
                alive.append(proc.name)
        if not alive:
            return
        time.sleep(0.1)
    raise AssertionError(f"processes of the stopped run still alive: {alive}")


def test_every_way_of_stopping_a_run_then_rerunning_gives_each_row_once(project: Project) -> None:
    rng = random.Random(SEED)
    job = project.write_job("deals", project.deals_job(target={"batch": {"rows": 2000}}))
    written = 0
    outcomes: Counter[str] = Counter()
    for trial in range(TRIALS):
        _write_big_csv(project, f"part-{trial:03d}.csv", written + 1, ROWS_PER_FILE)
        written += ROWS_PER_FILE
        way = WAYS[trial % len(WAYS)]
        run = subprocess.Popen(
            [sys.executable, "-m", "dativo_runner", "run", "--config", str(job), "--home", str(project.root)],
            cwd=project.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        _wait_for_pipe(run)
        time.sleep(rng.uniform(0.0, 2.2))
        stopped = _stop(run, way)
        _, stderr = run.communicate(timeout=120)
        _no_orphans(run.pid)
        outcomes[f"{way}:{'stopped' if stopped else 'finished'}"] += 1
        if stopped and way == "runner-sigterm":
            assert run.returncode == 2, stderr
            assert "stopped by SIGTERM" in stderr, stderr
        elif stopped and way in ("tap-kill", "target-kill"):
            assert run.returncode == 2, stderr
            assert "killed by SIGKILL" in stderr, stderr
        ids = _ids(project) if (project.root / "warehouse" / "catalog.db").exists() else []
        duplicates = [i for i, n in Counter(ids).items() if n > 1]
        assert not duplicates, f"trial {trial} ({way}): {len(duplicates)} duplicated ids"

    final = project.dativo("run", "--config", str(job))
    assert final.returncode == 0, final.stderr
    ids = _ids(project)
    assert len(ids) == written, outcomes
    assert set(ids) == set(range(1, written + 1))
    assert sum(n for key, n in outcomes.items() if key.endswith(":stopped")) >= TRIALS // 2, outcomes
