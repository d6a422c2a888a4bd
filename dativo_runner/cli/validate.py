"""`dativo validate`: jobs with everything they reference, or every YAML file of the project."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dativo_runner.assets import placeholder_warnings
from dativo_runner.cli.common import (
    add_common_options,
    home_of,
    job_files,
    print_error,
    print_warning,
    secrets_dir,
)
from dativo_runner.errors import EXIT_FAILURE, EXIT_OK, ConfigError, DativoError, Problem
from dativo_runner.home import ProjectHome
from dativo_runner.job_config import load_job_config
from dativo_runner.preflight import plan_problems
from dativo_runner.schema_validation import validate_document
from dativo_runner.secrets import Redactor
from dativo_runner.yaml_io import load_yaml

# Which schema checks the files of each project folder.
_LOCATIONS: tuple[tuple[str, str], ...] = (
    ("registry/connectors.yaml", "registry"),
    ("connectors/sources/*.yaml", "connector"),
    ("connectors/targets/*.yaml", "connector"),
    ("assets/**/*.yaml", "asset"),
    ("jobs/**/*.yaml", "job"),
    ("configs/runner*.yaml", "runner"),
    ("configs/policy*.yaml", "policy"),
)


def project_documents(home: ProjectHome) -> Iterator[tuple[Path, str]]:
    """Every YAML file of the project with the kind of document it must be."""
    for pattern, kind in _LOCATIONS:
        for path in sorted(home.root.glob(pattern)):
            yield path, kind


def validate_file(path: Path, kind: str, home: ProjectHome) -> list[Problem]:
    """Schema problems of one file (jobs are checked fully by `dativo validate --config`)."""
    display = home.display(path)
    try:
        data = load_yaml(path, display=display)
    except ConfigError as exc:
        return exc.problems
    return validate_document(kind, data, display)


def validate_project(home: ProjectHome) -> tuple[int, list[Problem]]:
    """Number of files checked and every problem found."""
    count, problems = 0, []
    for path, kind in project_documents(home):
        count += 1
        problems.extend(validate_file(path, kind, home))
    return count, problems


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    validate = sub.add_parser(
        "validate",
        help="validate jobs, or every YAML file of the project",
        description="Check jobs as `dativo run` does before it contacts anything: schemas, "
        "registry, recipes, asset, each connector's own checks, and the run's plan (secrets and "
        "${VAR}s set, credentials present, paths). Writes nothing, contacts nothing: "
        "`dativo check` also connects to each source and target.",
        epilog="examples:\n"
        "  dativo validate --job-dir jobs --secrets-dir secrets\n"
        "  dativo validate --config jobs/acme/csv_deals_to_iceberg.yaml\n"
        "  dativo validate --all",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = validate.add_mutually_exclusive_group(required=True)
    what.add_argument("--config", type=Path, help="job YAML file (checked with all it references)")
    what.add_argument("--job-dir", type=Path, help="folder of job YAML files")
    what.add_argument(
        "--all", action="store_true", help="every YAML file of the project home (jobs fully checked)"
    )
    validate.add_argument(
        "--no-secrets",
        action="store_true",
        help="skip the run's plan: secrets, credentials and defaulted ${VAR}s need not be set "
        "(CI before the secrets exist; `dativo run` still needs them)",
    )
    add_common_options(validate)
    validate.set_defaults(command=command_validate)


def _job_problems(
    path: Path, home: ProjectHome, args: argparse.Namespace, redactor: Redactor
) -> list[Problem]:
    """Everything `dativo run` would refuse in one job before contacting anything."""
    try:
        job = load_job_config(
            path, home, mode=args.mode, secrets_dir=secrets_dir(home, args), redactor=redactor
        )
        for warning in placeholder_warnings(job.asset):  # valid, but not finished (exit 0)
            print_warning(warning, redactor)
        return [] if args.no_secrets else plan_problems(job)
    except DativoError as exc:
        return exc.problems


def _print_once(problems: list[Problem], redactor: Redactor) -> int:
    """Each distinct problem printed once; how many were printed."""
    shown = list(dict.fromkeys(str(problem) for problem in problems))
    for line in shown:
        print_error(line, redactor)
    return len(shown)


def command_validate(args: argparse.Namespace, redactor: Redactor) -> int:
    """Every problem, one per line; exit 2 if any."""
    home = home_of(args)
    if args.all:
        count, problems = 0, []
        for path, kind in project_documents(home):
            count += 1
            found = validate_file(path, kind, home)
            if kind == "job" and not found:  # a job file is checked as `dativo run` would
                found = _job_problems(path, home, args, redactor)
            problems.extend(found)
        shown = _print_once(problems, redactor)
        print(f"{count} files checked, {shown} problems")
        return EXIT_FAILURE if shown else EXIT_OK
    failed = 0
    files = job_files(home, args)
    for path in files:
        if _print_once(_job_problems(path, home, args, redactor), redactor):
            failed += 1
    print(f"{len(files)} jobs checked, {failed} invalid")
    return EXIT_FAILURE if failed else EXIT_OK
