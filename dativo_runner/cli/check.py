"""`dativo check`: what `dativo validate` checks, then a connection to each source and target."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dativo_runner.cli.common import add_common_options, home_of, job_files, print_error, secrets_dir
from dativo_runner.errors import EXIT_FAILURE, EXIT_OK, DativoError
from dativo_runner.job_config import load_job_config
from dativo_runner.preflight import check_connections, plan_problems
from dativo_runner.secrets import Redactor


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    check = sub.add_parser(
        "check",
        help="validate jobs, then connect to each source and target",
        description="Everything `dativo validate` checks, then a connection to each side of each "
        "job: the tap reads one record (Singer --test; it is thrown away) and the target's "
        "storage and catalog are read. One line per side, `ok` or the error; nothing is "
        "written, no state is kept. Exit 0 when every side answered, else 2.",
        epilog="examples:\n"
        "  dativo check --config jobs/acme/postgres_orders_to_iceberg.yaml\n"
        "  dativo check --job-dir jobs/acme --secrets-dir secrets",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = check.add_mutually_exclusive_group(required=True)
    what.add_argument("--config", type=Path, help="job YAML file")
    what.add_argument("--job-dir", type=Path, help="folder of job YAML files (each is checked)")
    add_common_options(check)
    check.set_defaults(command=command_check)


def command_check(args: argparse.Namespace, redactor: Redactor) -> int:
    """One line per side of each job on stdout; invalid jobs as `dativo: error:` lines."""
    home = home_of(args)
    secrets = secrets_dir(home, args)
    failed = 0
    files = job_files(home, args)
    for path in files:
        try:
            job = load_job_config(path, home, mode=args.mode, secrets_dir=secrets, redactor=redactor)
            problems = plan_problems(job)
        except DativoError as exc:
            job, problems = None, exc.problems
        if job is None or problems:
            failed += 1
            for line in dict.fromkeys(str(problem) for problem in problems):
                print_error(line, redactor)
            continue
        results = check_connections(job)
        for result in results:
            outcome = "ok" if result.error is None else f"failed: {result.error}"
            print(redactor.redact(f"{job.file}: {result.side} {result.connector}: {outcome}"), flush=True)
        failed += any(result.error is not None for result in results)
    print(f"{len(files)} jobs checked, {failed} failed")
    return EXIT_FAILURE if failed else EXIT_OK
