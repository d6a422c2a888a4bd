"""Running one job: plan through the connector plugins, pipe ``tap | target``, keep state.

`run_job` never prints: progress, warnings and notes go to the injected Reporter, the outcome to
the returned JobSummary.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dativo_runner.errors import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, DativoError, Problem
from dativo_runner.executables import find_executable
from dativo_runner.job_config import Job
from dativo_runner.job_lock import JobLock, lock_path
from dativo_runner.pipe import PipeCallbacks, PipeResult, run_pipe
from dativo_runner.plugins.base import SourceCheck
from dativo_runner.policy import column_policies, load_policy, tap_policy_config
from dativo_runner.private_files import write_private
from dativo_runner.progress import Reporter, StderrReporter
from dativo_runner.setting_hints import setting_hint
from dativo_runner.singer_catalog import plan_catalog
from dativo_runner.source_marks import kept_mark, mark_path, plan_digest, save_mark
from dativo_runner.state_override import resume_point
from dativo_runner.state_override import split as split_override
from dativo_runner.state_store import StateStore
from dativo_runner.summary import JobSummary, StreamSummary
from dativo_singer.cli import LOG_DIR_VARIABLE
from dativo_singer.errors import DativoSingerError


@dataclass(frozen=True)
class RunOptions:
    """Options shared by every job of one `dativo run`."""

    state_dir: Path | None = None
    verbose: bool = False
    #: Ask the source whether anything changed before starting the tap and target (a source
    #: plugin's ``nothing_new``); ``dativo run --always-start`` turns it off.
    check_source_first: bool = True
    #: Warnings already given by this command: each is given once, not once per job.
    warned: set[str] = field(default_factory=set)


def state_path(job: Job, state_dir: Path | None) -> Path:
    """``<state_dir>/<tenant>/<job file stem>.json`` (``<stem>.<partition key>.json`` for one
    partition); a tenant folder or state file that is a symlink pointing out of it (another
    tenant's bookmark) is refused."""
    root = state_dir or job.home.state_dir
    folder = root / job.tenant_id
    path = folder / f"{job.run_name}.json"
    for inner, outer in ((folder, root), (path, folder)):
        if job.home.escapes(inner, outer):
            shown = job.home.display(inner)
            raise DativoError([Problem(shown, "", "links outside the state folder of its tenant: not used")])
    return path


def _problem_text(exc: DativoError, job: Job) -> str:
    """The first problem, without the job file's name (the CLI prefixes it once)."""
    problem = exc.problems[0]
    if problem.file == job.file:
        return f"{problem.field}: {problem.message}" if problem.field else problem.message
    return str(problem)


def run_job(job: Job, options: RunOptions, reporter: Reporter | None = None) -> JobSummary:
    """Run one validated job to the end; failures are reported in the summary, never raised."""
    started = time.monotonic()
    reporter = reporter or StderrReporter(
        f"{job.tenant_id}/{job.run_name}", verbose=options.verbose, level=job.log_level
    )
    summary = JobSummary(job=job.file, tenant_id=job.tenant_id)
    summary.partition = job.partition.key if job.partition else None
    try:
        store = StateStore(state_path(job, options.state_dir))
    except DativoError as exc:
        return _failed(summary, job.redactor.redact(_problem_text(exc, job)))
    summary.state_file = job.home.display(store.path)
    lock = JobLock(lock_path(store.path), job.home.display(lock_path(store.path)))
    try:
        store.check_writable()
        lock.acquire()  # one run of a job at a time; `dativo state reset|set` refuse meanwhile
    except DativoError as exc:
        return _failed(summary, job.redactor.redact(_problem_text(exc, job)))
    try:
        return _run_locked(job, options, reporter, store, summary, started)
    finally:
        lock.release()


def _run_locked(
    job: Job,
    options: RunOptions,
    reporter: Reporter,
    store: StateStore,
    summary: JobSummary,
    started: float,
) -> JobSummary:
    """`run_job` once the job's lock is held."""
    target = job.target_plugin
    stream_name = job.asset.object
    try:
        saved_state = store.load()  # a bad state file stops the run before anything is made
        tap_config = {**job.source_plugin.plan_config(job), **tap_policy_config(job)}
        target_config = target.plan_config(job)
        catalog = plan_catalog(job)
        keeps = target.capabilities.bookmarks_with_data
        committed = target.committed_bookmark(job, target_config, stream_name) if keeps else None
        previous_state = _resume_state(job, store, saved_state, committed, reporter)
        # Commits land only while the table still holds the bookmark this run resumed from.
        target_config.update(target.bookmark_check(target_config, stream_name, committed))
        if target.replaces_all(target_config):
            previous_state = None  # a full replace reads the source from the start every run
        _warn_about_default_salt(job, reporter, options.warned)
    except DativoError as exc:  # an invalid plan or state file
        return _failed(summary, job.redactor.redact(_problem_text(exc, job)))
    except DativoSingerError as exc:  # the target's storage or catalog unreachable
        error = str(exc) + setting_hint(job, "target", str(exc))
        return _failed(summary, job.redactor.redact(error), retriable=_is_retriable(exc))

    streams = {stream_name: StreamSummary(stream_name, target.location(job, target_config, stream_name))}
    summary.streams = list(streams.values())
    plan = plan_digest(tap_config, catalog)
    check = SourceCheck(False)
    if options.check_source_first:
        kept = kept_mark(mark_path(store.path), stream_name, previous_state, committed, plan)
        check = _check_source(job, tap_config, previous_state, kept)
    if check.nothing_new:
        reporter.note(f"{stream_name}: nothing new since the last run; tap and target not started")
        return _succeeded_with_nothing(job, target_config, summary, started)

    def on_commit(commit: dict[str, Any]) -> None:
        name = str(commit["stream"])
        stream = streams.setdefault(name, StreamSummary(name, str(commit["table"])))
        stream.rows += int(commit["rows"])
        stream.commits += 1
        stream.dead_letter_rows += int(commit.get("dead_letter_rows") or 0)
        stream.replaced_key_rows += int(commit.get("replaced_key_rows") or 0)
        stream.dead_letter_path = commit.get("dead_letter_path") or stream.dead_letter_path
        stream.table = str(commit["table"])
        stream.snapshot_id = commit.get("snapshot_id")
        stream.metadata_location = commit.get("metadata_location")
        if commit.get("table_rows") is not None:
            stream.table_rows = int(commit["table_rows"])
        stream.seconds = time.monotonic() - started
        reporter.commit(stream.stream, int(commit["rows"]), stream.rows)

    callbacks = PipeCallbacks(
        on_state=store.save, on_commit=on_commit, on_log=reporter.log, on_read=reporter.read
    )
    run_dir = store.path.parent / f".{job.run_name}.run"
    result = _pipe(job, run_dir, (tap_config, target_config, catalog, previous_state), callbacks)
    summary.seconds = time.monotonic() - started
    _count_from_pipe(job, target_config, streams, result)
    summary.streams = list(streams.values())
    if result.stopped_by is not None:
        summary = _failed(
            summary,
            f"stopped by {signal.Signals(result.stopped_by).name}: {result.tap.name} and "
            f"{result.target.name} were stopped; what was committed is recorded, a rerun continues from it",
        )
        summary.status = "stopped"
        return summary
    if result.state_error is not None:
        return _failed(summary, f"cannot save the state file {summary.state_file}: {result.state_error}")
    if not result.ok:
        side = result.failed_side or result.tap
        line = side.error_line()
        line += setting_hint(job, "source" if side is result.tap else "target", line)
        return _failed(summary, f"{side.name} failed: {line}", retriable=side.retriable)
    for stream in summary.streams:
        if stream.snapshot_id is None:
            stream.seconds = summary.seconds
            _fill_landed(job, target_config, stream)
    rejected = sum(s.dead_letter_rows for s in summary.streams)
    if rejected:
        paths = sorted({s.dead_letter_path for s in summary.streams if s.dead_letter_path})
        summary.status, summary.exit_code = "partial", EXIT_PARTIAL
        summary.error = f"{rejected} record(s) rejected and dead-lettered (see {', '.join(paths)})"
        return summary
    summary.status, summary.exit_code = "succeeded", EXIT_OK
    if check.mark is not None:  # the source as it stood before this run, with what it committed
        with suppress(DativoError):  # a state file unreadable now: no mark, the next run starts
            save_mark(mark_path(store.path), stream_name, store.load(), plan, check.mark)
    return summary


def _check_source(
    job: Job, tap_config: dict[str, Any], state: dict[str, Any] | None, kept: dict[str, Any] | None
) -> SourceCheck:
    """The source plugin's answer; a check that fails (a file vanishing meanwhile, a path the tap
    will refuse with its own error) means unsure: the pipe runs and reports it."""
    try:
        return job.source_plugin.check_source(job, tap_config, state, kept)
    except (OSError, DativoError, DativoSingerError):
        return SourceCheck(False)


def _succeeded_with_nothing(
    job: Job, target_config: dict[str, Any], summary: JobSummary, started: float
) -> JobSummary:
    """The summary of a run that found nothing new: the state stays as it is, the streams point
    at what already landed."""
    summary.seconds = time.monotonic() - started
    for stream in summary.streams:
        stream.seconds = summary.seconds
        _fill_landed(job, target_config, stream)
    summary.status, summary.exit_code = "succeeded", EXIT_OK
    return summary


def _pipe(
    job: Job,
    folder: Path,
    plan: tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any] | None],
    callbacks: PipeCallbacks,
) -> PipeResult:
    """Run the pipe with its configs in ``folder``: private (0700), beside the state file, made
    anew each run and removed after it, so a run killed with SIGKILL leaves its configs (salt
    included) only until the job's next run, never in a shared temp folder."""
    tap_config, target_config, catalog, state = plan
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700, parents=True)
    tap_config = _with_batch_storage(tap_config, target_config, folder)
    try:
        tap_cmd = [
            find_executable(job.source_entry.executable) or job.source_entry.executable,
            "--config",
            str(write_private(folder, "tap.json", tap_config)),
            "--catalog",
            str(write_private(folder, "catalog.json", catalog)),
        ]
        if state:
            tap_cmd += ["--state", str(write_private(folder, "state.json", state))]
        target_cmd = [
            find_executable(job.target_entry.executable) or job.target_entry.executable,
            "--config",
            str(write_private(folder, "target.json", target_config)),
        ]
        env = {
            **_ARROW_POOL,
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "LOGLEVEL": job.log_level,
            LOG_DIR_VARIABLE: str(folder.parent / "logs"),  # internal errors' tracebacks
        }
        return run_pipe(tap_cmd, target_cmd, env=env, redactor=job.redactor, callbacks=callbacks)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# Arrow's default allocator (mimalloc) keeps freed memory: tap-csv and target-iceberg held 40 and
# 75 MB more of it over a 1M-row CSV run than with jemalloc (docs/ARCHITECTURE.md). Chosen for
# the programs a run starts, before they import Arrow; a value set in the environment wins.
_ARROW_POOL = {"ARROW_DEFAULT_MEMORY_POOL": "jemalloc"} if sys.platform.startswith("linux") else {}


def _with_batch_storage(
    tap_config: dict[str, Any], target_config: dict[str, Any], folder: Path
) -> dict[str, Any]:
    """A ``batch_config`` the source plugin asked for without a storage root gets the run's
    folder: its BATCH files are removed with the folder when the run ends (docs/BATCH.md). Its
    files hold no more rows than the target commits at once (``batch_size_rows``): the target
    can commit only at the STATE after a file."""
    batch_config = tap_config.get("batch_config")
    if not batch_config:
        return tap_config
    batch_config = dict(batch_config)
    if not (batch_config.get("storage") or {}).get("root"):
        batch_config["storage"] = {
            **(batch_config.get("storage") or {}),
            "root": (folder / "batches").as_uri(),
        }
    commit_rows = target_config.get("batch_size_rows")
    if isinstance(commit_rows, int) and commit_rows > 0:
        batch_config["batch_size"] = min(int(batch_config.get("batch_size") or commit_rows), commit_rows)
    return {**tap_config, "batch_config": batch_config}


def _count_from_pipe(
    job: Job, target_config: dict[str, Any], streams: dict[str, StreamSummary], result: PipeResult
) -> None:
    """Rows of the streams no commit report described, from the Singer standard at the pipe:
    every row relayed when both sides ended cleanly, else those before the last STATE the target
    committed (docs/ARCHITECTURE.md). A target's commit reports, when it writes them, say more
    (rows dead-lettered or replaced) and are kept."""
    for name, rows in result.counts.landed(result.ok).items():
        stream = streams.get(name)
        if stream is None:
            location = job.target_plugin.location(job, target_config, name)
            stream = streams[name] = StreamSummary(name, location)
        if stream.commits == 0:
            stream.rows = rows
    for stream in streams.values():
        stream.source_metrics = dict(result.counts.gauges)


def _fill_landed(job: Job, target_config: dict[str, Any], stream: StreamSummary) -> None:
    """Where a stream this run did not commit to stands (a rerun with nothing new)."""
    try:
        landed = job.target_plugin.landed(job, target_config, stream.stream)
    except DativoSingerError:
        return  # the run succeeded; only the summary's pointer to the data is missing
    if landed is not None:
        stream.snapshot_id = landed.commit_id
        stream.metadata_location = landed.metadata_location
        stream.table_rows = landed.table_rows


def _resume_state(
    job: Job,
    store: StateStore,
    state: dict[str, Any] | None,
    committed: dict[str, Any] | None,
    reporter: Reporter,
) -> dict[str, Any] | None:
    """The state to resume from. A target that commits its bookmark with the data holds the
    truth (it emits a STATE only after committing it there); the state file is the fallback for
    targets that keep none, and is brought in line when it differs (a crash before it was saved,
    or another host's run). A state file `dativo state reset|set` wrote wins over the committed
    bookmark it replaced, until a run commits again (dativo_runner/state_override.py)."""
    point = resume_point(state, committed)
    where = job.home.display(store.path)
    if point.source == "override" and point.override is not None:
        reporter.note(
            f"{where}: resuming from the bookmark `dativo state {point.override.action}` wrote at "
            f"{point.override.at}, over the target's committed bookmark"
        )
        return point.state
    if point.superseded and point.override is not None and committed is not None:
        reporter.note(
            f"{where}: the target committed after `dativo state {point.override.action}` "
            f"({point.override.at}); resuming from the target's committed bookmark"
        )
        store.save(committed)
        return committed
    if committed is None or committed == state:
        return split_override(state)[0]
    reporter.note(
        f"{where}: "
        + ("missing" if state is None else "differs from the bookmark committed with the data")
        + "; resuming from the target's committed bookmark"
    )
    store.save(committed)
    return committed


def _warn_about_default_salt(job: Job, reporter: Reporter, warned: set[str]) -> None:
    """Once per command (``warned`` holds what was said), not once per job of a folder."""
    policies = column_policies(job.asset, load_policy(job.home), job.secrets, job.tenant_id)
    if policies.unset_salt and "hash" in policies.actions.values():
        warning = (
            f"policy salt {policies.unset_salt} is not set (tenant secrets or environment); "
            "hashing with the tenant's default salt, which anyone can reproduce"
        )
        if warning not in warned:
            warned.add(warning)
            reporter.warning(warning)


def _is_retriable(exc: Exception) -> bool:
    from dativo_singer.errors import RetriableError

    return isinstance(exc, RetriableError)


def _failed(summary: JobSummary, error: str, *, retriable: bool = False) -> JobSummary:
    summary.status, summary.exit_code = "failed", EXIT_FAILURE
    summary.retriable = retriable
    summary.error = error + (" (a transient failure: the run can be retried)" if retriable else "")
    return summary
