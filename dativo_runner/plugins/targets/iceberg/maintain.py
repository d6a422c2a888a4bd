"""Maintenance of a job's Iceberg table: retention, small-file compaction, snapshot expiry."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from dativo_runner.plugins.base import MAINTAIN_STEPS, MaintainOptions

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from target_iceberg.maintenance import CompactionReport, ExpireReport, RetentionReport
    from target_iceberg.orphans import OrphanReport


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
    orphans: OrphanReport | None = None

    def as_json(self) -> str:
        """One JSON object; steps not run are null."""
        data: dict[str, Any] = {"job": self.job, "table": self.table, "dry_run": self.dry_run}
        data["seconds"] = round(self.seconds, 3)
        for name in MAINTAIN_STEPS:
            report = getattr(self, name)
            data[name] = asdict(report) if report is not None else None
        data["orphans"] = asdict(self.orphans) if self.orphans is not None else None
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
        if self.orphans is not None:
            lines.append(f"  orphan files: {_orphans_text(self.orphans, self.dry_run)}")
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


def _orphans_text(report: OrphanReport, dry_run: bool) -> str:
    if report.skipped:
        return report.skipped
    verb = "would delete" if dry_run else "deleted"
    count = len(report.orphans) if dry_run else report.deleted
    text = (
        f"{report.files_listed:,} files listed; {verb} {count:,} no snapshot references "
        f"({report.orphan_bytes / (1 << 20):.1f} MB, older than {report.older_than})"
    )
    if report.recent_orphans:
        text += f"; {report.recent_orphans:,} newer ones kept (a run may still be writing them)"
    if report.not_deleted:
        text += f"; {report.not_deleted:,} could not be deleted"
    return text


def maintain_table(
    job_file: str, retention_days: Any, table: Table, identifier: str, options: MaintainOptions
) -> MaintenanceRun:
    """Run the chosen steps in order: retention, compaction, expire."""
    from target_iceberg import maintenance
    from target_iceberg.orphans import remove_orphan_files

    run = MaintenanceRun(job=job_file, table=identifier, dry_run=options.dry_run)
    started = time.monotonic()
    if "retention" in options.steps:
        run.retention = maintenance.apply_retention(table, retention_days, dry_run=options.dry_run)
    if "compaction" in options.steps:
        target = max(1, int(options.target_file_mb * (1 << 20)))
        run.compaction = maintenance.compact_files(table, target, dry_run=options.dry_run)
    if "expire" in options.steps:
        older_than = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=options.older_than_hours)
        run.expire = maintenance.expire_snapshots(
            table, options.keep_snapshots, older_than, dry_run=options.dry_run
        )
        run.orphans = remove_orphan_files(table, older_than, dry_run=options.dry_run)
    run.seconds = time.monotonic() - started
    return run
