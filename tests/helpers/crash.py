"""Crash trials, shared by every pipeline: `dativo run` started in its own session, stopped at a
seeded random moment after the tap is running by one of the ways a run is stopped, then checked
(no process left, no row twice); after the trials a clean rerun must land every row exactly once.

A pipeline is a :class:`Pipeline`: a written job, the environment and CLI arguments it needs, how
the source grows before each trial, and how the landed keys are read back (:mod:`tests.helpers.
crash_targets`). Trials per pipeline: ``DATIVO_CRASH_TRIALS`` (default 1; ``make test-crash`` 20+);
``DATIVO_CRASH_SEED`` changes the draw.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers.project import Project

WAYS = ("group-kill", "runner-sigterm", "runner-kill", "tap-kill", "target-kill")
SEED = int(os.environ.get("DATIVO_CRASH_SEED") or 20261128)


def trials(default: int = 1) -> int:
    """Trials per pipeline: ``DATIVO_CRASH_TRIALS`` or ``default``."""
    return int(os.environ.get("DATIVO_CRASH_TRIALS") or default)


def children(pid: int) -> list[int]:
    """The direct children of a process (empty once it is gone)."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found.extend(int(p) for p in (task / "children").read_text().split())
    except (FileNotFoundError, ProcessLookupError):
        return []
    return found


def child(runner: int, program: str) -> int | None:
    """The child of the runner whose command line names ``program`` (tap-csv, target-iceberg...)."""
    for pid in children(runner):
        try:
            if program.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return pid
        except (FileNotFoundError, ProcessLookupError):
            continue
    return None


def stop(run: subprocess.Popen[str], way: str, tap: str, target: str) -> bool:
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
        pid = child(run.pid, tap if way == "tap-kill" else target)
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
    return True


def wait_for_tap(run: subprocess.Popen[str], tap: str, timeout: float = 60) -> bool:
    """Until the runner has started its tap (or ended): progress, not a fixed sleep. On a loaded
    machine the interpreter's start-up alone can outlast any sleep, and a runner stopped before it
    installed its signal handlers has nothing to clean up, so such a trial proves nothing."""
    deadline = time.monotonic() + timeout
    while run.poll() is None and time.monotonic() < deadline:
        if child(run.pid, tap) is not None:
            return True
        time.sleep(0.02)
    return False


def no_orphans(run_pid: int) -> None:
    """Nothing the run started outlives it (its process group is empty within 10 s)."""
    alive: list[str] = []
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


def start(project: Project, job: Path, args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """`dativo run` of the job in its own session, as a container or an orchestrator starts it."""
    full_env = {**os.environ, **env}
    full_env.pop("DATIVO_HOME", None)
    home = ["--home", str(project.root)]
    return subprocess.Popen(
        [sys.executable, "-m", "dativo_runner", "run", "--config", str(job), *args, *home],
        cwd=project.root,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


# What the run that loses a commit to a concurrent run of the same job says (exit 2).
OUTRUN = "another run committed to"


def check_stopped_run(way: str, stopped: bool, code: int, stderr: str, concurrent: bool = False) -> None:
    """The runner reports how it was stopped: SIGTERM and a killed child are exit 2, named. With
    a concurrent writer, a run may instead have lost its commit to it (exit 2, named)."""
    outrun = concurrent and code == 2 and OUTRUN in stderr
    if stopped and way == "runner-sigterm":
        assert code == 2, stderr[-3000:]
        assert "stopped by SIGTERM" in stderr or outrun, stderr[-3000:]
    elif stopped and way in ("tap-kill", "target-kill"):
        assert code == 2, stderr[-3000:]
        assert "killed by SIGKILL" in stderr or outrun, stderr[-3000:]
    elif not stopped and concurrent:
        assert code == 0 or outrun, stderr[-3000:]


class Reader:
    """A reader polling the target while runs go on: the fewest keys it ever saw, and how many
    times it read (a failed read, such as the SQLite catalog busy with a commit, is retried)."""

    def __init__(self, landed: Callable[[], list[Any]]) -> None:
        self.landed = landed
        self.reads = 0
        self.fewest: int | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._done.is_set():
            try:
                count = len(self.landed())
            except Exception:  # a read that met a commit half-way: read again
                count = None
            if count is not None:
                self.reads += 1
                self.fewest = count if self.fewest is None else min(self.fewest, count)
            time.sleep(0.05)

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=60)


def duplicates(keys: list[Any]) -> list[Any]:
    """Keys that are there more than once."""
    return [k for k, n in Counter(keys).items() if n > 1]


@dataclass
class Pipeline:
    """One source into one target, ready to run: the job and how to grow and read it."""

    name: str
    project: Project
    job: Path
    tap: str  # the tap's program name, as in its command line
    target: str
    landed: Callable[[], list[Any]]  # the keys in the target, duplicates kept
    grow: Callable[[int], None]  # adds the source data of trial n
    expected: Callable[[], set[Any]]  # every key the source holds now
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    max_delay: float = 1.5  # the seeded extra wait after the tap started, at most
    writers: int = 1  # concurrent runs of the job per trial, each with its own state folder
    partitions: list[str] = field(default_factory=list)  # one concurrent run per partition key
    reader: bool = False  # poll the target during each trial: never fewer keys than before it
    final_check: Callable[[], None] | None = None  # after the clean rerun, beside the keys


@dataclass
class Figures:
    """What the trials of one pipeline measured."""

    outcomes: Counter[str] = field(default_factory=Counter)
    reads: int = 0
    fewest_margin: int | None = None  # the reader's fewest keys minus the keys before the run

    def read(self, reader: Reader, before: int) -> None:
        """Add one trial's reader figures."""
        self.reads += reader.reads
        if reader.fewest is not None:
            margin = reader.fewest - before
            self.fewest_margin = margin if self.fewest_margin is None else min(self.fewest_margin, margin)

    def line(self) -> str:
        """The reader's part of the report line."""
        if not self.reads:
            return ""
        return f"; reader: {self.reads} reads, fewest keys {self.fewest_margin:+d} against the run's start"


def _run_args(pipeline: Pipeline) -> list[list[str]]:
    """The arguments of each concurrent run: one per partition (``--partition KEY``), one per
    writer (its own ``--state-dir``), or the pipeline's own."""
    if pipeline.partitions:
        return [[*pipeline.args, "--partition", key] for key in pipeline.partitions]
    if pipeline.writers == 1:
        return [pipeline.args]
    root = pipeline.project.root
    return [[*pipeline.args, "--state-dir", str(root / f"state-{w}")] for w in range(pipeline.writers)]


def _trial(pipeline: Pipeline, way: str, rng: random.Random, figures: Figures) -> None:
    """One trial: the runs started together, one stopped the chosen way, all waited for."""
    before = len(pipeline.landed())
    with Reader(pipeline.landed) if pipeline.reader else nullcontext() as reader:
        runs = [start(pipeline.project, pipeline.job, args, pipeline.env) for args in _run_args(pipeline)]
        victim = rng.randrange(len(runs))
        wait_for_tap(runs[victim], pipeline.tap)
        time.sleep(rng.uniform(0.0, pipeline.max_delay))
        stopped = stop(runs[victim], way, pipeline.tap, pipeline.target)
        ended = [run.communicate(timeout=300)[1] for run in runs]
    concurrent = pipeline.writers > 1
    for index, (run, stderr) in enumerate(zip(runs, ended, strict=True)):
        no_orphans(run.pid)
        check_stopped_run(way, stopped and index == victim, run.returncode, stderr, concurrent)
        if pipeline.partitions and index != victim:  # partitions never outrun one another
            assert run.returncode == 0, f"partition {pipeline.partitions[index]}: {stderr[-3000:]}"
    figures.outcomes[f"{way}:{'stopped' if stopped else 'finished'}"] += 1
    if reader is not None:
        figures.read(reader, before)
        assert reader.fewest is None or reader.fewest >= before, (
            f"{pipeline.name} ({way}): a reader saw {reader.fewest} keys, {before} before the run"
        )


def run_trials(pipeline: Pipeline, count: int, offset: int = 0) -> Counter[str]:
    """``count`` seeded crash trials, then a clean rerun (one per writer's state folder, or per
    partition): every key exactly once. ``offset`` shifts the ways so that a short run of several pipelines still
    covers every way."""
    rng = random.Random(f"{SEED}:{pipeline.name}")
    figures = Figures()
    for trial in range(count):
        pipeline.grow(trial)
        way = WAYS[(trial + offset) % len(WAYS)]
        _trial(pipeline, way, rng, figures)
        twice = duplicates(pipeline.landed())
        assert not twice, f"{pipeline.name} trial {trial} ({way}): {len(twice)} keys twice, e.g. {twice[:5]}"

    # The source as the rerun must leave the table, read once every change has been made (a
    # log-based source's writer may still be changing it when the last trial ends).
    expected = pipeline.expected()
    for args in _run_args(pipeline):
        final = start(pipeline.project, pipeline.job, args, pipeline.env)
        _, stderr = final.communicate(timeout=300)
        assert final.returncode == 0, stderr[-3000:]
    keys = pipeline.landed()
    twice = duplicates(keys)
    assert not twice, f"{pipeline.name} after the rerun: {len(twice)} keys twice, e.g. {twice[:5]}"
    missing = expected - set(keys)
    outcomes = figures.outcomes
    assert not missing, f"{pipeline.name}: {len(missing)} keys lost, e.g. {sorted(missing)[:5]} ({outcomes})"
    assert set(keys) == expected, f"{pipeline.name}: keys the source never had"
    if pipeline.final_check is not None:
        pipeline.final_check()
    line = f"{pipeline.name}: {count} trials {dict(sorted(outcomes.items()))}; {len(keys)} keys once each"
    line += figures.line()
    print(line)
    if os.environ.get("DATIVO_CRASH_REPORT"):  # one line per pipeline, also from xdist workers
        with open(os.environ["DATIVO_CRASH_REPORT"], "a", encoding="utf-8") as report:
            report.write(line + "\n")
    return outcomes
