"""`dativo maintain`: retention, small-file compaction and snapshot expiry on a job's Iceberg table."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dativo_runner.errors import EXIT_OK, ConfigError, DativoError, Problem
from dativo_runner.home import ProjectHome
from dativo_runner.job_config import Job, load_job_config

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from target_iceberg.maintenance import CompactionReport, ExpireReport, RetentionReport

STEPS = ("retention", "compaction", "expire")
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


def add_maintain_parser(sub: Any) -> None:
    """Add the `maintain` subcommand to the CLI's subparsers."""
    from dativo_runner.cli import _common

    maintain = sub.add_parser(
        "maintain", help="apply retention, compact small files and expire old snapshots of a job's table"
    )
    maintain.add_argument("--config", type=Path, required=True, help="job YAML file")
    _common(maintain)
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
        help=f"only expire snapshots older than H hours (default {DEFAULT_OLDER_THAN_HOURS})",
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


@dataclass
class MaintenanceRun:
    """What `dativo maintain` did to one table."""

    job: str
    table: str
    dry_run: bool
    seconds: float = 0.0
    retention: RetentionReport | None = None
    compaction: CompactionReport | None = None
    expire: ExpireReport | None = None

    def as_json(self) -> str:
        """One JSON object; steps not run are null."""
        data: dict[str, Any] = {"job": self.job, "table": self.table, "dry_run": self.dry_run}
        data["seconds"] = round(self.seconds, 3)
        for name in STEPS:
            report = getattr(self, name)
            data[name] = asdict(report) if report is not None else None
        return json.dumps(data)

    def as_text(self) -> str:
        """One line per step."""
        verb = "dry run (nothing changed)" if self.dry_run else "done"
        lines = [f"{self.table} ({self.job}): maintenance {verb} in {self.seconds:.2f}s"]
        if self.retention is not None:
            lines.append(f"  retention: {_retention_text(self.retention, self.dry_run)}")
        if self.compaction is not None:
            lines.append(f"  compaction: {_compaction_text(self.compaction, self.dry_run)}")
        if self.expire is not None:
            lines.append(f"  expire snapshots: {_expire_text(self.expire, self.dry_run)}")
        return "\n".join(lines)


def _retention_text(report: RetentionReport, dry_run: bool) -> str:
    if report.skipped:
        return report.skipped
    verb = "would be deleted" if dry_run else "deleted"
    text = f"{report.rows_deleted:,} rows with {report.column} before {report.cutoff} {verb}"
    return text + (f" (snapshot {report.snapshot_id})" if report.snapshot_id else "")


def _compaction_text(report: CompactionReport, dry_run: bool) -> str:
    size = f"{report.target_file_bytes / (1 << 20):g} MB"
    if not report.files_rewritten:
        return f"{report.files_before:,} data files; none to merge (no partition has 2+ files under {size})"
    arrow = "would become" if dry_run else "->"
    text = (
        f"{report.files_before:,} data files {arrow} {report.files_after:,} "
        f"({report.files_rewritten:,} files under {size} merged into {report.files_written:,} "
        f"in {report.partitions:,} partition{'s' if report.partitions != 1 else ''}, "
        f"{report.rows_rewritten:,} rows)"
    )
    return text + (f", snapshot {report.snapshot_id}" if report.snapshot_id else "")


def _expire_text(report: ExpireReport, dry_run: bool) -> str:
    text = (
        f"{report.snapshots_expired:,} of {report.snapshots_before:,} "
        f"{'would expire' if dry_run else 'expired'}, {report.snapshots_remaining:,} remaining "
        f"(keeping the newest {report.keep_last} and any since {report.older_than})"
    )
    if report.snapshots_expired:
        verb = "would delete" if dry_run else "deleted"
        text += f"; {verb} {report.files_deleted:,} files no remaining snapshot references"
    if report.files_not_deleted:
        text += f" ({report.files_not_deleted:,} could not be deleted)"
    return text


def _open_table(job: Job) -> tuple[Table, str]:
    """The job's table through its catalog; a missing table or unreachable catalog is one line."""
    from dativo_runner.planners import plan_target_config

    if job.target_entry.name != "iceberg":
        raise ConfigError([Problem(job.file, "target_connector", "maintain works on iceberg targets only")])
    config = plan_target_config(job)
    identifier = f"{config['namespace']}.{config['table_names'][job.asset.object]}"
    from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
    from target_iceberg.catalog import open_catalog

    from dativo_singer.errors import DativoSingerError

    try:
        catalog = open_catalog(config)
        return catalog.load_table(identifier), identifier
    except (NoSuchTableError, NoSuchNamespaceError):
        message = f"table {identifier} not found in the Iceberg catalog (run the job first)"
    except DativoSingerError as exc:
        message = str(exc)
    except Exception as exc:  # drivers raise many kinds when the catalog cannot be reached
        message = f"cannot read table {identifier} from the Iceberg catalog: {type(exc).__name__}: {exc}"
    raise DativoError([Problem(job.file, "target", job.redactor.redact(message))])


def maintain_table(job: Job, table: Table, identifier: str, args: argparse.Namespace) -> MaintenanceRun:
    """Run the chosen steps in order: retention, compaction, expire."""
    from target_iceberg import maintenance

    run = MaintenanceRun(job=job.file, table=identifier, dry_run=args.dry_run)
    started = time.monotonic()
    if "retention" in args.steps:
        days = job.asset.governance.get("retention_days")
        run.retention = maintenance.apply_retention(table, days, dry_run=args.dry_run)
    if "compaction" in args.steps:
        target = max(1, int(args.target_file_mb * (1 << 20)))
        run.compaction = maintenance.compact_files(table, target, dry_run=args.dry_run)
    if "expire" in args.steps:
        older_than = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=args.older_than_hours)
        run.expire = maintenance.expire_snapshots(
            table, args.keep_snapshots, older_than, dry_run=args.dry_run
        )
    run.seconds = time.monotonic() - started
    return run


def command_maintain(args: argparse.Namespace) -> int:
    """`dativo maintain`: one report on stdout (text lines, or one JSON object with --json)."""
    from dativo_runner.cli import _secrets_dir
    from dativo_singer.errors import DativoSingerError

    home = ProjectHome.from_option(args.home)
    job = load_job_config(
        home.resolve(args.config), home, mode=args.mode, secrets_dir=_secrets_dir(home, args)
    )
    table, identifier = _open_table(job)
    # pyiceberg's commit-retry warnings and UserWarnings would add stray stderr lines; the report
    # (or the one error line) says what happened.
    logging.getLogger("pyiceberg").addHandler(logging.NullHandler())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            run = maintain_table(job, table, identifier, args)
    except DativoSingerError as exc:
        message = str(exc)
    except Exception as exc:  # e.g. storage unreachable while reading data files
        message = f"maintenance of {identifier} failed: {type(exc).__name__}: {exc}"
    else:
        print(run.as_json() if args.json else run.as_text())
        return EXIT_OK
    raise DativoError([Problem(job.file, "target", job.redactor.redact(message))])
