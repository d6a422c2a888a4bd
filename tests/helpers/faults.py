"""Shared pieces of the fault suite (tests/integration/test_faults_*.py): which cases run by
default, a big CSV to keep a run busy, and a `dativo run` watched while a service fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.project import Project

# `make test-faults` sets DATIVO_FAULTS=full: every case. `make test` runs a fast subset.
FULL = os.environ.get("DATIVO_FAULTS", "").strip().lower() == "full"
full_only = pytest.mark.skipif(not FULL, reason="full fault suite only (make test-faults)")
RETRY_MARK = "unreachable during"  # dativo_singer.service_retry's warning


def report(case: str, **figures: Any) -> None:
    """One line of figures for the suite's report: printed, and appended as JSON to the file
    named by ``DATIVO_FAULTS_REPORT`` when set (xdist workers do not show prints)."""
    print(f"{case}: {figures}")
    path = os.environ.get("DATIVO_FAULTS_REPORT", "").strip()
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"case": case, **figures}) + "\n")


def write_deals(project: Project, files: int, rows: int) -> set[int]:
    """``files`` CSV files of ``rows`` deals each under data/deals/; the ids written."""
    ids: set[int] = set()
    for f in range(files):
        start = f * rows + 1
        lines = [
            f"{i},Deal {i},Company {i % 97},proposal,{i % 1000}.25,USD,0.5,false,o{i % 13}@example.com,"
            f"2024-01-01T00:00:00Z,"
            for i in range(start, start + rows)
        ]
        project.write_deals(f"part_{f:03d}.csv", lines)
        ids.update(range(start, start + rows))
    return ids


@dataclass
class Outcome:
    """How one watched run ended."""

    code: int
    summary: dict[str, Any]
    stderr: str

    @property
    def retries(self) -> int:
        """Retry warnings logged by the tap and target (`--verbose` forwards them)."""
        return self.stderr.count(RETRY_MARK)


def start_run(project: Project, job: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`dativo run --json --verbose` in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "dativo_runner", "run", "--json", "--verbose", "--config", str(job),
         "--home", str(project.root)],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def finish(run: subprocess.Popen[str], timeout: float = 600) -> Outcome:
    """Wait for the run; its exit code, summary and stderr."""
    stdout, stderr = run.communicate(timeout=timeout)
    return Outcome(run.returncode, json.loads(stdout) if stdout.strip() else {}, stderr)


def wait_for_commit(run: subprocess.Popen[str], state_file: Path, timeout: float = 180) -> None:
    """Until the run saved its state once (a first commit landed); fails if the run ended first:
    a fault injected after the run proves nothing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run.poll() is not None:
            _, stderr = run.communicate()
            raise AssertionError(f"the run ended (exit {run.returncode}) before the fault: {stderr[-2000:]}")
        if state_file.exists() and state_file.stat().st_size:
            return
        time.sleep(0.05)
    raise AssertionError("no commit within the timeout")


def assert_once(ids: list[int], expected: set[int]) -> None:
    """Every expected id exactly once, nothing else."""
    twice = [i for i, n in Counter(ids).items() if n > 1]
    assert not twice, f"{len(twice)} ids landed twice, e.g. {twice[:5]}"
    assert set(ids) == expected, f"{len(expected - set(ids))} missing, {len(set(ids) - expected)} unexpected"


def assert_no_duplicates(ids: list[int]) -> None:
    twice = [i for i, n in Counter(ids).items() if n > 1]
    assert not twice, f"{len(twice)} ids landed twice, e.g. {twice[:5]}"
