"""Run records: one small JSON file per job run under ``<state>/<tenant>/logs/``, the last
``KEEP`` of each job kept, for `dativo runs`."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from dativo_runner.summary import JobSummary

KEEP = int(os.environ.get("DATIVO_RUNS_KEEP") or 20)
_SUFFIX = ".run.json"


def logs_dir(state_dir: Path, tenant: str) -> Path:
    """``<state>/<tenant>/logs``: run records, and tracebacks of internal errors."""
    return state_dir / tenant / "logs"


def record_run(summary: JobSummary, folder: Path, job_name: str, started: float) -> Path:
    """Write the run's record (its summary, already redacted; private to the owner) and remove
    the job's oldest records beyond ``KEEP``."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    path = folder / f"{job_name}.{stamp}.{os.getpid()}{_SUFFIX}"
    record = {"job_name": job_name, "started": stamp, **summary.to_dict()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    for old in job_records(folder, job_name)[:-KEEP]:
        old.unlink(missing_ok=True)
    return path


def job_records(folder: Path, job_name: str) -> list[Path]:
    """A job's record files, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"{job_name}.*{_SUFFIX}"))


def read_runs(folder: Path, job_name: str | None = None) -> list[dict[str, Any]]:
    """The records of one job, or of every job of the folder, oldest first (unreadable ones skipped)."""
    paths = job_records(folder, job_name) if job_name else sorted(folder.glob(f"*{_SUFFIX}"))
    runs = []
    for path in paths:
        try:
            runs.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    return sorted(runs, key=lambda run: str(run.get("started")))


def run_line(run: dict[str, Any]) -> str:
    """``20261205T065109Z acme/deals succeeded in 1.29s: 5,000 rows -> acme.deals snapshot 12``."""
    streams = run.get("streams") or []
    rows = sum(int(s.get("rows") or 0) for s in streams)
    where = ", ".join(
        str(s.get("table")) + (f" snapshot {s['snapshot_id']}" if s.get("snapshot_id") is not None else "")
        for s in streams
    )
    line = (
        f"{run.get('started')} {run.get('tenant_id')}/{run.get('job_name')} {run.get('status')} "
        f"in {float(run.get('seconds') or 0):.2f}s: {rows:,} rows"
    )
    if where:
        line += f" -> {where}"
    if run.get("error"):
        line += f"; {run['error']}"
    return line
