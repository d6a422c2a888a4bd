"""`dativo show`: the first rows of a job's data, read back through its target."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dativo_runner.cli.common import add_common_options, load_job
from dativo_runner.errors import EXIT_OK, DativoError, Problem
from dativo_runner.secrets import Redactor
from dativo_runner.terminal_text import fit
from dativo_singer.errors import DativoSingerError


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    show = sub.add_parser(
        "show",
        help="print the first rows of a job's table",
        description="Print the row count and the first rows of a job's table, wrapped to the "
        "terminal's width, 64-character hashes shortened to 12 (--full: as stored).",
        epilog="example: dativo show --config jobs/acme/csv_deals_to_iceberg.yaml --limit 5",
    )
    show.add_argument("--config", type=Path, required=True, help="job YAML file")
    show.add_argument("--limit", type=int, default=5)
    show.add_argument(
        "--full", action="store_true", help="64-character hashes in full, lines not wrapped"
    )
    add_common_options(show)
    show.set_defaults(command=command_show)


def command_show(args: argparse.Namespace, redactor: Redactor) -> int:
    """Print the rows."""
    job = load_job(args, redactor=redactor)
    try:
        text = job.target_plugin.show(job, args.limit)
    except DativoSingerError as exc:
        raise DativoError([Problem(job.file, "target", str(exc))]) from None
    print(fit(redactor.redact(text), full=args.full))
    return EXIT_OK
