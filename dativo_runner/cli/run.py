"""`dativo run`: each job is loaded, validated and run; the summary goes to stdout."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path
from typing import Any

from dativo_runner.cli.common import add_common_options, home_of, job_files, print_error, secrets_dir
from dativo_runner.errors import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, ConfigError, DativoError
from dativo_runner.job_config import Job, load_job_config
from dativo_runner.pipes_report import PipesRun, launched_by_dagster
from dativo_runner.progress_live import make_reporter
from dativo_runner.run_history import record_run
from dativo_runner.runner import RunOptions, run_job, state_path
from dativo_runner.secrets import Redactor
from dativo_runner.summary import JobSummary, render_json, render_text


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    run = sub.add_parser(
        "run",
        help="run one job, or every job of a folder",
        description="Run tap | target for each job; exit 0 (success), 1 (partial), 2 (failure).",
        epilog="examples:\n"
        "  dativo run --config jobs/acme/csv_deals_to_iceberg.yaml --json\n"
        "  dativo run --job-dir jobs/acme --secrets-dir secrets --state-dir state\n"
        "  dativo --log-format json run --config jobs/acme/csv_deals_to_iceberg.yaml 2> run.log.jsonl\n\n"
        "On a terminal a live progress line is shown; otherwise one line per commit (docs/CLI.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="job YAML file")
    source.add_argument("--job-dir", type=Path, help="folder of job YAML files (all are run)")
    add_common_options(run)
    run.add_argument("--state-dir", type=Path, help="state folder (default: <home>/state)")
    run.add_argument(
        "--partition",
        metavar="KEY",
        help="run only this partition of a partitioned job (with --config); default: every one in turn",
    )
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("-v", "--verbose", action="store_true", help="forward every tap/target log line")
    run.add_argument(
        "--always-start",
        action="store_true",
        help="start the tap and target even when the source reports nothing new since the last run",
    )
    run.set_defaults(command=command_run)


def _combine(codes: list[int]) -> int:
    if all(code == EXIT_OK for code in codes):
        return EXIT_OK
    if all(code == EXIT_FAILURE for code in codes):
        return EXIT_FAILURE
    return EXIT_PARTIAL


def _slices(job: Job, key: str | None) -> list[Job]:
    """The runs of a job: partition ``key`` alone, every partition in turn, or the whole job."""
    if key is not None:
        return [job.with_partition(key)]
    found = job.partitions
    return [job.with_partition(k) for k in found.keys] if found is not None else [job]


def _invalid(file: str, exc: DativoError, redactor: Redactor) -> JobSummary:
    """The summary of a job refused before it ran (its problems printed, one line each)."""
    for problem in exc.problems:
        print_error(str(problem), redactor)
    error = redactor.redact(str(exc.problems[0]))
    return JobSummary(job=file, tenant_id="", status="invalid", exit_code=EXIT_FAILURE, error=error)


def _run_one(job: Job, options: RunOptions, pipes: PipesRun | None) -> JobSummary:
    """One job; reported to Dagster when it launched us, else on stderr (a live line on a terminal)."""
    if pipes is not None:
        return run_job(job, options, pipes.reporter(job))
    reporter = make_reporter(f"{job.tenant_id}/{job.run_name}", verbose=options.verbose, level=job.log_level)
    try:
        return run_job(job, options, reporter)
    finally:
        reporter.close()


def _record(job: Job, options: RunOptions, summary: JobSummary, started: float) -> None:
    """The record of a run that started its pipe, for `dativo runs` (a job refused while planning
    leaves nothing behind); a record that cannot be written never fails the run."""
    if not summary.streams:
        return
    with contextlib.suppress(OSError, DativoError):
        record_run(summary, state_path(job, options.state_dir).parent / "logs", job.name, started)


def _run_and_record(job: Job, options: RunOptions, pipes: PipesRun | None, redactor: Redactor) -> JobSummary:
    """One run of a loaded job (or of one of its partitions): its error line printed, its
    record kept for `dativo runs`."""
    started = time.time()
    try:
        summary = _run_one(job, options, pipes)
    except Exception as exc:  # a bug or an unexpected environment: one redacted line, exit 2
        summary = JobSummary(
            job=job.file,
            tenant_id=job.tenant_id,
            status="failed",
            exit_code=EXIT_FAILURE,
            error=f"unexpected {type(exc).__name__}: {exc}",
            partition=job.partition.key if job.partition else None,
        )
    summary.error = redactor.redact(summary.error) if summary.error else None
    _record(job, options, summary, started)
    if summary.error:
        where = f"{summary.job}: partition {job.partition.key}" if job.partition else summary.job
        print_error(f"{where}: {summary.error}", redactor, job=f"{job.tenant_id}/{job.run_name}")
    return summary


def command_run(args: argparse.Namespace, redactor: Redactor) -> int:
    """Run every job named; one error line per failed job; the summary on stdout."""
    home = home_of(args)
    secrets = secrets_dir(home, args)
    options = RunOptions(
        state_dir=home.resolve(args.state_dir) if args.state_dir else None,
        verbose=args.verbose,
        check_source_first=not args.always_start,
    )
    if args.partition is not None and args.config is None:
        raise ConfigError("--partition: give it with --config (one job), not --job-dir")
    summaries: list[JobSummary] = []
    codes: list[int] = []  # per job: the worst of its partitions' exit codes
    pipes = launched_by_dagster()  # None unless Dagster launched this run (Dagster Pipes)
    for path in job_files(home, args):
        try:
            job = load_job_config(path, home, mode=args.mode, secrets_dir=secrets, redactor=redactor)
            runs = _slices(job, args.partition)
        except DativoError as exc:
            summaries.append(_invalid(home.display(path), exc, redactor))
            codes.append(EXIT_FAILURE)
            continue
        job_codes = []
        for one in runs:
            summary = _run_and_record(one, options, pipes, redactor)
            summaries.append(summary)
            job_codes.append(summary.exit_code)
            if summary.status == "stopped":
                break  # a signal stops the whole command, not only this job
        codes.append(max(job_codes))
        if summaries[-1].status == "stopped":
            break
    code = _combine(codes)
    if pipes is not None:
        pipes.finish(summaries, code)
    many = args.job_dir is not None or len(summaries) > 1
    text = render_json(summaries, code, many=many) if args.json else render_text(summaries, many=many)
    print(redactor.redact(text))
    return code
