"""`dativo runs`: the recorded runs of a job or of a tenant, newest last."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dativo_runner.cli.common import add_common_options, home_of, load_job, typed_path
from dativo_runner.errors import EXIT_OK, ConfigError, Problem
from dativo_runner.job_config import TENANT_PATTERN, TENANT_RULE
from dativo_runner.run_history import KEEP, logs_dir, read_runs, run_line
from dativo_runner.runner import state_path
from dativo_runner.secrets import Redactor
from dativo_runner.terminal_text import fit


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    runs = sub.add_parser(
        "runs",
        help="the recorded runs of a job or a tenant",
        description=f"Each `dativo run` of a job leaves a record under <state>/<tenant>/logs/ "
        f"(status, time, rows, the snapshot or manifest, the error); the last {KEEP} of each job "
        "are kept (DATIVO_RUNS_KEEP). Oldest first.",
        epilog="examples:\n"
        "  dativo runs --config jobs/acme/csv_deals_to_iceberg.yaml\n"
        "  dativo runs --tenant acme --limit 10 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = runs.add_mutually_exclusive_group(required=True)
    what.add_argument("--config", type=Path, help="job YAML file")
    what.add_argument("--tenant", help="every job of this tenant")
    add_common_options(runs)
    runs.add_argument("--state-dir", type=Path, help="state folder (default: <home>/state)")
    runs.add_argument("--limit", type=int, default=20, help="the newest N runs (default 20)")
    runs.add_argument("--json", action="store_true", help="one JSON object")
    runs.set_defaults(command=command_runs)


def command_runs(args: argparse.Namespace, redactor: Redactor) -> int:
    """One line per run (or one JSON object)."""
    home = home_of(args)
    state_dir = typed_path(home, args.state_dir) if args.state_dir else None
    if args.config is not None:
        job = load_job(args, redactor=redactor)
        found = read_runs(state_path(job, state_dir).parent / "logs", job.name)
    else:
        if not TENANT_PATTERN.fullmatch(args.tenant):
            raise ConfigError([Problem("--tenant", "", f"{args.tenant!r} is not allowed: {TENANT_RULE}")])
        found = read_runs(logs_dir(state_dir or home.state_dir, args.tenant))
    found = found[-args.limit :] if args.limit > 0 else found
    if args.json:
        print(redactor.redact(json.dumps({"runs": found})))
    else:
        print(fit(redactor.redact("\n".join(run_line(run) for run in found) or "no runs recorded")))
    return EXIT_OK
