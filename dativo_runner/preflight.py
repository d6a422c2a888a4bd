"""Checks before a run: the plan `dativo run` would make (offline, for `dativo validate`) and a
connection to each side (`dativo check`). Neither writes anything."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dativo_runner.errors import DativoError, Problem
from dativo_runner.executables import find_executable
from dativo_runner.job_config import Job
from dativo_runner.pipe import SideResult
from dativo_runner.policy import tap_policy_config
from dativo_runner.private_files import write_private
from dativo_runner.setting_hints import setting_hint
from dativo_runner.singer_catalog import plan_catalog
from dativo_singer.errors import DativoSingerError

CHECK_TIMEOUT_SECONDS = 60.0


def plan_problems(job: Job) -> list[Problem]:
    """What planning the run would refuse (secrets and variables not set, credentials missing),
    found without contacting anything or writing anything (a partitioned job: its first
    partition's)."""
    job = job.first_slice()
    steps: tuple[Callable[[], object], ...] = (
        lambda: {**job.source_plugin.plan_config(job), **tap_policy_config(job)},
        lambda: job.target_plugin.read_config(job),
        lambda: plan_catalog(job),
    )
    problems: list[Problem] = []
    for step in steps:
        try:
            step()
        except DativoError as exc:
            problems.extend(p for p in exc.problems if p not in problems)
        except DativoSingerError as exc:
            problems.append(Problem(job.file, "", str(exc)))
    return problems


@dataclass(frozen=True)
class SideCheck:
    """The outcome of connecting to one side of a job."""

    side: str  # "source" or "target"
    connector: str
    error: str | None  # None when the connection worked


def check_source(job: Job) -> SideCheck:
    """The tap run in Singer ``--test`` mode on the job's stream: it connects and reads one
    record, which is thrown away (nothing is written, no state is kept)."""
    config = {**job.source_plugin.plan_config(job), **tap_policy_config(job)}
    config.pop("batch_config", None)  # one record is read: the RECORD path, no BATCH files
    program = job.source_entry.executable
    folder = Path(tempfile.mkdtemp(prefix="dativo-check-"))
    try:
        command = [
            find_executable(program) or program,
            "--config",
            str(write_private(folder, "tap.json", config)),
            "--catalog",
            str(write_private(folder, "catalog.json", plan_catalog(job))),
            "--test",
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "LOGLEVEL": "WARNING"}
        try:
            done = subprocess.run(
                command,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                timeout=CHECK_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return SideCheck("source", job.source_entry.name, f"no answer in {CHECK_TIMEOUT_SECONDS:.0f} s")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if done.returncode == 0:
        return SideCheck("source", job.source_entry.name, None)
    tail = deque(done.stderr.splitlines(), maxlen=40)
    error = SideResult(program, done.returncode, tail=tail).error_line()
    return SideCheck("source", job.source_entry.name, error + setting_hint(job, "source", error))


def check_target(job: Job) -> SideCheck:
    """The target's storage and catalog read (the bookmark committed with the data), not written."""
    config = job.target_plugin.read_config(job)
    try:
        job.target_plugin.committed_bookmark(job, config, job.asset.object)
    except DativoError as exc:
        return SideCheck("target", job.target_entry.name, exc.problems[0].message)
    except DativoSingerError as exc:
        return SideCheck("target", job.target_entry.name, str(exc) + setting_hint(job, "target", str(exc)))
    return SideCheck("target", job.target_entry.name, None)


def check_connections(job: Job) -> list[SideCheck]:
    """Source then target, each connected to once (a partitioned job: its first partition)."""
    job = job.first_slice()
    results = []
    for check in (check_source, check_target):
        try:
            results.append(check(job))
        except DativoError as exc:  # planning refused: the same line `dativo validate` gives
            side = "source" if check is check_source else "target"
            name = job.source_entry.name if side == "source" else job.target_entry.name
            results.append(SideCheck(side, name, str(exc.problems[0])))
    return results
