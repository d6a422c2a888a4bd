"""`dativo maintain`: retention, compaction and snapshot expiry of a job's data."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dativo_runner.cli.common import add_common_options, load_job
from dativo_runner.errors import EXIT_OK
from dativo_runner.plugins.base import MAINTAIN_STEPS as STEPS
from dativo_runner.plugins.base import MaintainOptions
from dativo_runner.secrets import Redactor

DEFAULT_KEEP_SNAPSHOTS = 5
DEFAULT_OLDER_THAN_HOURS = 24 * 7
DEFAULT_TARGET_FILE_MB = 128


def _non_negative(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text} is negative")
        return value

    return parse


def _steps(text: str) -> list[str]:
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in STEPS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"steps are a comma list of {', '.join(STEPS)}")
    return [s for s in STEPS if s in chosen]


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    maintain = sub.add_parser(
        "maintain",
        help="apply retention, compact small files and expire old snapshots of a job's table",
        description="Retention (asset governance.retention_days), small-file compaction and "
        "snapshot expiry, in that order.",
        epilog="example: dativo maintain --config jobs/acme/csv_deals_to_iceberg.yaml --dry-run",
    )
    maintain.add_argument("--config", type=Path, required=True, help="job YAML file")
    add_common_options(maintain)
    maintain.add_argument("--json", action="store_true", help="print the report as one JSON object")
    maintain.add_argument("--dry-run", action="store_true", help="report what would change; change nothing")
    maintain.add_argument(
        "--keep-snapshots",
        type=_non_negative(int),
        default=DEFAULT_KEEP_SNAPSHOTS,
        metavar="N",
        help=f"always keep the newest N snapshots (default {DEFAULT_KEEP_SNAPSHOTS})",
    )
    maintain.add_argument(
        "--older-than-hours",
        type=_non_negative(float),
        default=DEFAULT_OLDER_THAN_HOURS,
        metavar="H",
        help="only expire snapshots, and delete orphan files, older than H hours "
        f"(default {DEFAULT_OLDER_THAN_HOURS})",
    )
    maintain.add_argument(
        "--target-file-mb",
        type=_non_negative(float),
        default=DEFAULT_TARGET_FILE_MB,
        metavar="M",
        help=f"data files smaller than M MB are compacted (default {DEFAULT_TARGET_FILE_MB})",
    )
    maintain.add_argument(
        "--steps",
        type=_steps,
        default=list(STEPS),
        help="comma list of steps to run, in this order: retention,compaction,expire (default all)",
    )
    maintain.set_defaults(command=command_maintain)


def command_maintain(args: argparse.Namespace, redactor: Redactor) -> int:
    """One report on stdout (text lines, or one JSON object with --json)."""
    job = load_job(args, redactor=redactor)
    options = MaintainOptions(
        steps=tuple(args.steps),
        dry_run=args.dry_run,
        keep_snapshots=args.keep_snapshots,
        older_than_hours=args.older_than_hours,
        target_file_mb=args.target_file_mb,
    )
    text, as_json = job.target_plugin.maintain(job, options)
    print(redactor.redact(as_json if args.json else text))
    return EXIT_OK
