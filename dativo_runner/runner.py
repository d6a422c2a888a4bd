"""Running one job: plan, write temporary configs, pipe ``tap | target``, keep state, summarize."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dativo_runner.errors import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, DativoError
from dativo_runner.executables import find_executable
from dativo_runner.job_config import Job
from dativo_runner.pipe import PipeCallbacks, PipeResult, run_pipe
from dativo_runner.planners import plan_catalog, plan_tap_config, plan_target_config
from dativo_runner.policy import column_policies, load_policy
from dativo_runner.progress import Progress
from dativo_runner.reconcile import committed_bookmark
from dativo_runner.state_store import StateStore
from dativo_runner.summary import JobSummary, StreamSummary
from dativo_singer.errors import DativoSingerError


@dataclass(frozen=True)
class RunOptions:
    """Options shared by every job of one `dativo run`."""

    state_dir: Path | None = None
    verbose: bool = False


def state_path(job: Job, state_dir: Path | None) -> Path:
    """``<state_dir>/<tenant>/<job file stem>.json``."""
    return (state_dir or job.home.state_dir) / job.tenant_id / f"{job.name}.json"


def _write_private(folder: Path, name: str, data: dict[str, Any]) -> Path:
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    return path


def _table_identifier(target_config: dict[str, Any], stream: str) -> str:
    table = (target_config.get("table_names") or {}).get(stream, stream)
    return f"{target_config.get('namespace', 'default')}.{table}"


def _landed_table(target_config: dict[str, Any], identifier: str) -> tuple[int | None, str | None]:
    """Snapshot id and metadata location of a table this run did not commit to (if it exists)."""
    from pyiceberg.exceptions import NoSuchTableError
    from target_iceberg.catalog import open_catalog

    try:
        table = open_catalog(target_config).load_table(identifier)
    except NoSuchTableError:
        return None, None
    branch = target_config.get("branch")
    snapshot = table.snapshot_by_name(branch) if branch else table.current_snapshot()
    return (snapshot.snapshot_id if snapshot else None), table.metadata_location


def run_job(job: Job, options: RunOptions) -> JobSummary:
    """Run one validated job to the end; failures are reported in the summary, never raised."""
    started = time.monotonic()
    summary = JobSummary(job=job.file, tenant_id=job.tenant_id)
    store = StateStore(state_path(job, options.state_dir))
    summary.state_file = job.home.display(store.path)
    try:
        tap_config = plan_tap_config(job)
        target_config = plan_target_config(job)
        catalog = plan_catalog(job)
        previous_state = _reconciled_state(store, target_config, catalog)
        if target_config.get("write_mode") == "overwrite":
            previous_state = None  # a full replace reads the source from the start every run
        _warn_about_default_salt(job)
    except (DativoError, DativoSingerError) as exc:  # invalid plan, or the catalog unreachable
        summary.status, summary.exit_code = "failed", EXIT_FAILURE
        summary.error = job.redactor.redact(str(exc))
        return summary

    streams = {
        s["stream"]: StreamSummary(stream=s["stream"], table=_table_identifier(target_config, s["stream"]))
        for s in catalog["streams"]
    }
    summary.streams = list(streams.values())
    progress = Progress(job_label=f"{job.tenant_id}/{job.name}", started=started, verbose=options.verbose)

    def on_commit(commit: dict[str, Any]) -> None:
        stream = streams.setdefault(
            commit["stream"], StreamSummary(stream=commit["stream"], table=commit["table"])
        )
        stream.rows += int(commit["rows"])
        stream.commits += 1
        stream.dead_letter_rows += int(commit.get("dead_letter_rows") or 0)
        stream.dead_letter_path = commit.get("dead_letter_path") or stream.dead_letter_path
        stream.table = commit["table"]
        stream.snapshot_id = commit.get("snapshot_id")
        stream.metadata_location = commit.get("metadata_location")
        stream.seconds = time.monotonic() - started
        progress.commit(stream.stream, int(commit["rows"]), stream.rows)

    callbacks = PipeCallbacks(
        on_state=store.save, on_commit=on_commit, on_log=progress.log, on_read=progress.read
    )
    with tempfile.TemporaryDirectory(prefix="dativo-run-") as tmp:
        folder = Path(tmp)
        tap_cmd = [
            find_executable(job.source_entry.executable) or job.source_entry.executable,
            "--config",
            str(_write_private(folder, "tap.json", tap_config)),
            "--catalog",
            str(_write_private(folder, "catalog.json", catalog)),
        ]
        if previous_state:
            tap_cmd += ["--state", str(_write_private(folder, "state.json", previous_state))]
        target_cmd = [
            find_executable(job.target_entry.executable) or job.target_entry.executable,
            "--config",
            str(_write_private(folder, "target.json", target_config)),
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        result = run_pipe(tap_cmd, target_cmd, env=env, redactor=job.redactor, callbacks=callbacks)

    summary.seconds = time.monotonic() - started
    summary.streams = list(streams.values())
    if not result.ok:
        summary.status, summary.exit_code = "failed", EXIT_FAILURE
        summary.error = _failure_line(result)
        return summary
    for stream in summary.streams:
        if stream.snapshot_id is None:
            stream.seconds = summary.seconds
            stream.snapshot_id, stream.metadata_location = _landed_table(target_config, stream.table)
    rejected = sum(s.dead_letter_rows for s in summary.streams)
    if rejected:
        paths = sorted({s.dead_letter_path for s in summary.streams if s.dead_letter_path})
        summary.status, summary.exit_code = "partial", EXIT_PARTIAL
        summary.error = f"{rejected} record(s) rejected and dead-lettered (see {', '.join(paths)})"
        return summary
    summary.status, summary.exit_code = "succeeded", EXIT_OK
    return summary


def _reconciled_state(
    store: StateStore, target_config: dict[str, Any], catalog: dict[str, Any]
) -> dict[str, Any] | None:
    """The state to resume from: a bookmark committed after the state file was saved wins."""
    state = store.load()
    stream = catalog["streams"][0]["stream"]
    found = committed_bookmark(target_config, _table_identifier(target_config, stream))
    if found is None:
        return state
    committed, committed_at = found
    saved_at = store.path.stat().st_mtime if store.path.exists() else 0.0
    if committed != state and committed_at > saved_at:
        sys.stderr.write(
            f"dativo: {store.path.name}: the table has a commit newer than the state file; "
            "resuming from the table's bookmark\n"
        )
        store.save(committed)
        return committed
    return state


def _warn_about_default_salt(job: Job) -> None:
    policies = column_policies(job.asset, load_policy(job.home), job.secrets, job.tenant_id)
    if policies.unset_salt and "hash" in policies.actions.values():
        sys.stderr.write(
            f"dativo: warning: policy salt {policies.unset_salt} is not set (tenant secrets or "
            "environment); hashing with the tenant's default salt, which anyone can reproduce\n"
        )


def _failure_line(result: PipeResult) -> str:
    side = result.failed_side or result.tap
    return f"{side.name} failed: {side.error_line()}"


def print_error(message: str) -> None:
    """One error line on stderr."""
    sys.stderr.write(f"dativo: error: {message}\n")
    sys.stderr.flush()
