"""The `dativo` command line: run, validate, show."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dativo_runner import __version__
from dativo_runner.errors import EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, ConfigError, DativoError
from dativo_runner.home import ProjectHome
from dativo_runner.job_config import load_job_config
from dativo_runner.maintain_cmd import add_maintain_parser, command_maintain
from dativo_runner.runner import RunOptions, print_error, run_job
from dativo_runner.secrets import Redactor
from dativo_runner.summary import JobSummary, render_json, render_text
from dativo_runner.validate_cmd import validate_project


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="project home (default: $DATIVO_HOME or the current directory)")
    parser.add_argument("--secrets-dir", type=Path, help="folder of <tenant>/*.env and *.json secrets")
    parser.add_argument("--mode", choices=["self_hosted", "cloud"], default="self_hosted")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="dativo", description="Config-driven ingestion engine.")
    parser.add_argument("--version", action="version", version=f"dativo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one job, or every job of a folder")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="job YAML file")
    source.add_argument("--job-dir", type=Path, help="folder of job YAML files (all are run)")
    _common(run)
    run.add_argument("--state-dir", type=Path, help="state folder (default: <home>/state)")
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("-v", "--verbose", action="store_true", help="forward every tap/target log line")

    validate = sub.add_parser("validate", help="validate jobs, or every YAML file of the project")
    what = validate.add_mutually_exclusive_group(required=True)
    what.add_argument("--config", type=Path, help="job YAML file (checked with all it references)")
    what.add_argument("--job-dir", type=Path, help="folder of job YAML files")
    what.add_argument("--all", action="store_true", help="every YAML file of the project home")
    _common(validate)

    show = sub.add_parser("show", help="print the first rows of a job's Iceberg table")
    show.add_argument("--config", type=Path, required=True, help="job YAML file")
    show.add_argument("--limit", type=int, default=5)
    _common(show)
    add_maintain_parser(sub)
    return parser


def _job_files(home: ProjectHome, args: argparse.Namespace) -> list[Path]:
    if args.config is not None:
        return [home.resolve(args.config)]
    folder = home.resolve(args.job_dir)
    if not folder.is_dir():
        raise ConfigError(f"{args.job_dir}: job folder not found")
    files = sorted(p for p in folder.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    if not files:
        raise ConfigError(f"{args.job_dir}: no job YAML files in this folder")
    return files


def _secrets_dir(home: ProjectHome, args: argparse.Namespace) -> Path | None:
    if args.secrets_dir is None:
        return None
    folder = home.resolve(args.secrets_dir)
    if not folder.is_dir():
        raise ConfigError(f"{args.secrets_dir}: secrets folder not found")
    return folder


def _combine(codes: list[int]) -> int:
    if all(code == EXIT_OK for code in codes):
        return EXIT_OK
    if all(code == EXIT_FAILURE for code in codes):
        return EXIT_FAILURE
    return EXIT_PARTIAL


def command_run(args: argparse.Namespace) -> int:
    """`dativo run`: each job is loaded, validated and run; the summary goes to stdout."""
    home = ProjectHome.from_option(args.home)
    secrets_dir = _secrets_dir(home, args)
    options = RunOptions(
        state_dir=home.resolve(args.state_dir) if args.state_dir else None, verbose=args.verbose
    )
    summaries: list[JobSummary] = []
    for path in _job_files(home, args):
        redactor = Redactor()
        try:
            job = load_job_config(path, home, mode=args.mode, secrets_dir=secrets_dir, redactor=redactor)
        except DativoError as exc:
            for problem in exc.problems:
                print_error(redactor.redact(str(problem)))
            summaries.append(
                JobSummary(
                    job=home.display(path),
                    tenant_id="?",
                    status="invalid",
                    exit_code=EXIT_FAILURE,
                    error=redactor.redact(str(exc.problems[0])),
                )
            )
            continue
        try:
            summary = run_job(job, options)
        except Exception as exc:  # a bug or an unexpected environment: one redacted line, exit 2
            summary = JobSummary(
                job=job.file,
                tenant_id=job.tenant_id,
                status="failed",
                exit_code=EXIT_FAILURE,
                error=redactor.redact(f"unexpected {type(exc).__name__}: {exc}"),
            )
        if summary.error:
            print_error(f"{summary.job}: {summary.error}")
        summaries.append(summary)
    code = _combine([s.exit_code for s in summaries])
    if args.json:
        print(render_json(summaries, code, many=args.job_dir is not None))
    else:
        print(render_text(summaries))
    return code


def command_validate(args: argparse.Namespace) -> int:
    """`dativo validate`: prints every problem, one per line; exit 2 if any."""
    home = ProjectHome.from_option(args.home)
    if args.all:
        count, problems = validate_project(home)
        for problem in problems:
            print_error(str(problem))
        print(f"{count} files checked, {len(problems)} problems")
        return EXIT_FAILURE if problems else EXIT_OK
    secrets_dir = _secrets_dir(home, args)
    failed = 0
    files = _job_files(home, args)
    for path in files:
        redactor = Redactor()
        try:
            load_job_config(path, home, mode=args.mode, secrets_dir=secrets_dir, redactor=redactor)
        except DativoError as exc:
            failed += 1
            for problem in exc.problems:
                print_error(redactor.redact(str(problem)))
    print(f"{len(files)} jobs checked, {failed} invalid")
    return EXIT_FAILURE if failed else EXIT_OK


def command_show(args: argparse.Namespace) -> int:
    """`dativo show`: the first rows of the job's table, read back through its catalog."""
    from dativo_runner.show import show_table

    home = ProjectHome.from_option(args.home)
    job = load_job_config(
        home.resolve(args.config), home, mode=args.mode, secrets_dir=_secrets_dir(home, args)
    )
    print(show_table(job, args.limit))
    return EXIT_OK


_COMMANDS = {
    "run": command_run,
    "validate": command_validate,
    "show": command_show,
    "maintain": command_maintain,
}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `dativo` console script."""
    args = build_parser().parse_args(argv)
    try:
        code = _COMMANDS[args.command](args)
    except DativoError as exc:
        for problem in exc.problems:
            print_error(str(problem))
        code = exc.exit_code
    except KeyboardInterrupt:
        code = EXIT_FAILURE
    except Exception as exc:  # a bug or an unexpected environment: still one line, exit 2
        print_error(f"unexpected {type(exc).__name__}: {exc}")
        code = EXIT_FAILURE
    sys.exit(code)
