"""Table maintenance: retention deletes, small-file compaction and snapshot expiry.

Each step is a function over a pyiceberg ``Table`` that returns a report; with ``dry_run`` it only
plans. Every snapshot a step commits carries the table's Singer bookmark (``dativo.singer-state``)
forward, so the bookmark stays on the current snapshot.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.expressions import LessThan, Reference
from pyiceberg.expressions.literals import literal
from pyiceberg.manifest import DataFile, FileFormat
from pyiceberg.table import FileScanTask, Table
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.transforms import DayTransform, HourTransform, IdentityTransform, MonthTransform, YearTransform
from pyiceberg.types import DateType, TimestampType, TimestamptzType

from dativo_singer.errors import FatalError
from target_iceberg.bookmark import latest_bookmarks
from target_iceberg.pyiceberg_internals import read_data_files, swap_data_files, write_unsplit_data_files
from target_iceberg.tables import branch_head

OPERATION_SUMMARY_KEY = "dativo.operation"
DATE_COLUMN = "ingest_date"
_TIME_TRANSFORMS = (YearTransform, MonthTransform, DayTransform, HourTransform)


@dataclass(frozen=True)
class RetentionReport:
    """What the retention step deleted (or would delete), or why it was skipped."""

    applied: bool
    column: str | None = None
    cutoff: str | None = None
    rows_deleted: int = 0
    skipped: str | None = None
    snapshot_id: int | None = None


@dataclass(frozen=True)
class CompactionReport:
    """Data files of the current snapshot before and after rewriting small files."""

    applied: bool
    target_file_bytes: int
    files_before: int
    files_after: int
    files_rewritten: int = 0
    files_written: int = 0
    partitions: int = 0
    rows_rewritten: int = 0
    snapshot_id: int | None = None


@dataclass(frozen=True)
class ExpireReport:
    """Snapshots expired (or that would be) and files no retained snapshot references any more."""

    applied: bool
    keep_last: int
    older_than: str
    snapshots_before: int
    snapshots_expired: int
    snapshots_remaining: int
    files_deleted: int = 0
    files_not_deleted: int = 0


def maintenance_properties(table: Table, operation: str) -> dict[str, str]:
    """Snapshot summary properties of a maintenance commit: the operation and the carried
    bookmarks (each partition's too, so expiring snapshots never drops one)."""
    return {OPERATION_SUMMARY_KEY: operation, **latest_bookmarks(table)}


def _not_landed(exc: Exception) -> bool:
    """True when the failed commit certainly did not land (pyiceberg's own rule)."""
    return isinstance(exc, (CommitFailedException, ValidationException))


def _step_error(step: str, table: Table, exc: Exception, *, committing: bool = True) -> FatalError:
    """One line naming the step and table, and whether the table may have changed."""
    unchanged = not committing or _not_landed(exc)
    outcome = "nothing was changed" if unchanged else "the commit may have landed"
    name = ".".join(table.name())
    return FatalError(f"{step} of {name} failed: {type(exc).__name__}: {exc} ({outcome}; rerun)")


# --- retention -------------------------------------------------------------------------------


def retention_column(table: Table) -> tuple[str | None, str | None]:
    """(date column, None), or (None, why retention cannot apply to this table)."""
    schema = table.schema()
    candidates: list[str] = []
    for field in table.spec().fields:
        source = schema.find_field(field.source_id).name
        if isinstance(field.transform, _TIME_TRANSFORMS) or (
            isinstance(field.transform, IdentityTransform) and source == DATE_COLUMN
        ):
            candidates.append(source)
    if not candidates and DATE_COLUMN in {f.name for f in schema.fields}:
        candidates.append(DATE_COLUMN)
    if not candidates:
        return None, "no date column; retention skipped"
    column = candidates[0]
    kind = schema.find_field(column).field_type
    if not isinstance(kind, (DateType, TimestampType, TimestamptzType)):
        return None, f"date column {column} has type {kind}, not date or timestamp; retention skipped"
    return column, None


def _cutoff(table: Table, column: str, days: int, now: dt.datetime) -> dt.date | dt.datetime:
    moment = (now.astimezone(dt.timezone.utc) - dt.timedelta(days=days)).replace(microsecond=0)
    kind = table.schema().find_field(column).field_type
    if isinstance(kind, DateType):
        return moment.date()
    return moment if isinstance(kind, TimestamptzType) else moment.replace(tzinfo=None)


def apply_retention(
    table: Table, retention_days: int | None, *, dry_run: bool = False, now: dt.datetime | None = None
) -> RetentionReport:
    """Delete rows whose date column is older than ``retention_days`` (in one commit)."""
    if not retention_days:
        return RetentionReport(applied=False, skipped="no governance.retention_days; retention skipped")
    column, skipped = retention_column(table)
    if column is None:
        return RetentionReport(applied=False, skipped=skipped)
    cutoff = _cutoff(table, column, int(retention_days), now or dt.datetime.now(dt.timezone.utc))
    predicate = LessThan(term=Reference(column), value=literal(cutoff))
    rows = table.scan(row_filter=predicate).count() if branch_head(table) else 0
    report = RetentionReport(applied=False, column=column, cutoff=cutoff.isoformat(), rows_deleted=rows)
    if dry_run or rows == 0:
        return report
    try:
        table.delete(predicate, snapshot_properties=maintenance_properties(table, "retention"))
    except Exception as exc:  # a conflict, or a storage or catalog failure
        raise _step_error("retention", table, exc) from None
    snapshot = branch_head(table)
    return RetentionReport(
        applied=True,
        column=column,
        cutoff=cutoff.isoformat(),
        rows_deleted=rows,
        snapshot_id=snapshot.snapshot_id if snapshot else None,
    )


# --- compaction ------------------------------------------------------------------------------


def _pack(tasks: list[FileScanTask], capacity: int) -> list[list[FileScanTask]]:
    """First-fit decreasing by file size: bins of at most ``capacity`` bytes."""
    bins: list[list[FileScanTask]] = []
    sizes: list[int] = []
    for task in sorted(tasks, key=lambda t: t.file.file_size_in_bytes, reverse=True):
        size = task.file.file_size_in_bytes
        for index, used in enumerate(sizes):
            if used + size <= capacity:
                bins[index].append(task)
                sizes[index] += size
                break
        else:
            bins.append([task])
            sizes.append(size)
    return bins


def plan_compaction(table: Table, target_file_bytes: int) -> dict[Any, list[list[FileScanTask]]]:
    """Per partition, the bins of small files to merge (each bin has two files or more).

    Only Parquet data files of the current partition spec without delete files are candidates.
    """
    spec_id = table.spec().spec_id
    groups: dict[Any, list[FileScanTask]] = defaultdict(list)
    for task in table.scan().plan_files():
        data = task.file
        if (
            data.file_size_in_bytes < target_file_bytes
            and not task.delete_files
            and data.spec_id == spec_id
            and data.file_format == FileFormat.PARQUET
        ):
            groups[data.partition].append(task)
    plan: dict[Any, list[list[FileScanTask]]] = {}
    for partition, tasks in groups.items():
        bins = [b for b in _pack(tasks, target_file_bytes) if len(b) > 1]
        if bins:
            plan[partition] = bins
    return plan


def _data_file_count(table: Table) -> int:
    return sum(1 for _ in table.scan().plan_files()) if branch_head(table) else 0


def _write_bin(
    table: Table, tasks: list[FileScanTask], commit_uuid: uuid.UUID, counter: itertools.count[int]
) -> list[DataFile]:
    """Read one bin's rows (bounded by the bin size) and write them as one new data file."""
    rows = read_data_files(table, tasks)
    written = write_unsplit_data_files(table, rows, commit_uuid, counter)  # a bin becomes one file
    expected = sum(task.file.record_count for task in tasks)
    if sum(f.record_count for f in written) != expected or rows.num_rows != expected:
        raise FatalError(f"compaction read {rows.num_rows} rows where the manifests list {expected}")
    return written


def _delete_quietly(table: Table, paths: Iterable[str]) -> None:
    for path in paths:
        try:
            table.io.delete(path)
        except Exception:  # best effort: an orphan file is harmless, the commit did not land
            continue


def compact_files(table: Table, target_file_bytes: int, *, dry_run: bool = False) -> CompactionReport:
    """Merge small data files per partition into as few files as possible, in one commit."""
    before = _data_file_count(table)
    plan = plan_compaction(table, target_file_bytes) if before else {}
    bins = [b for partition_bins in plan.values() for b in partition_bins]
    rewritten = sum(len(b) for b in bins)
    rows = sum(task.file.record_count for b in bins for task in b)
    if dry_run or not bins:
        return CompactionReport(
            applied=False,
            target_file_bytes=target_file_bytes,
            files_before=before,
            files_after=before - rewritten + len(bins),
            files_rewritten=rewritten,
            files_written=len(bins),
            partitions=len(plan),
            rows_rewritten=rows,
        )
    commit_uuid = uuid.uuid4()
    counter = itertools.count(0)
    written: list[DataFile] = []
    try:
        for tasks in bins:
            written.extend(_write_bin(table, tasks, commit_uuid, counter))
    except Exception as exc:  # nothing is committed yet: the new files are orphans
        _delete_quietly(table, (f.file_path for f in written))
        if isinstance(exc, FatalError):
            raise
        raise _step_error("compaction", table, exc, committing=False) from None
    try:
        removed = [task.file for tasks in bins for task in tasks]
        swap_data_files(table, removed, written, maintenance_properties(table, "compaction"), commit_uuid)
    except Exception as exc:
        if _not_landed(exc):  # otherwise the outcome is unknown: the new files may be in use
            _delete_quietly(table, (f.file_path for f in written))
        raise _step_error("compaction", table, exc) from None
    snapshot = branch_head(table)
    return CompactionReport(
        applied=True,
        target_file_bytes=target_file_bytes,
        files_before=before,
        files_after=_data_file_count(table),
        files_rewritten=rewritten,
        files_written=len(written),
        partitions=len(plan),
        rows_rewritten=rows,
        snapshot_id=snapshot.snapshot_id if snapshot else None,
    )


# --- snapshot expiry -------------------------------------------------------------------------


def snapshots_to_expire(table: Table, keep_last: int, older_than: dt.datetime) -> list[Snapshot]:
    """Snapshots older than ``older_than`` beyond the newest ``keep_last``, never a branch or tag head."""
    metadata = table.metadata
    protected = {ref.snapshot_id for ref in metadata.refs.values()}
    if metadata.current_snapshot_id is not None:
        protected.add(metadata.current_snapshot_id)
    newest_first = sorted(metadata.snapshots, key=lambda s: (s.timestamp_ms, s.sequence_number), reverse=True)
    cutoff_ms = int(older_than.timestamp() * 1000)
    return [
        s
        for s in newest_first[max(keep_last, 0) :]
        if s.timestamp_ms < cutoff_ms and s.snapshot_id not in protected
    ]


def reachable_files(table: Table, snapshots: Iterable[Snapshot], *, live_only: bool) -> set[str]:
    """Manifest lists, manifests and data/delete files the given snapshots reference.

    With ``live_only`` a manifest's DELETED entries are left out: the snapshot no longer reads them.
    """
    paths: set[str] = set()
    seen_manifests: set[str] = set()
    for snapshot in snapshots:
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in seen_manifests:
                continue
            seen_manifests.add(manifest.manifest_path)
            paths.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=live_only):
                paths.add(entry.data_file.file_path)
    return paths


def expire_snapshots(
    table: Table,
    keep_last: int,
    older_than: dt.datetime,
    *,
    dry_run: bool = False,
) -> ExpireReport:
    """Expire old snapshots, then delete the files only expired snapshots referenced."""
    before = len(table.metadata.snapshots)
    expired = snapshots_to_expire(table, keep_last, older_than)
    report = ExpireReport(
        applied=False,
        keep_last=keep_last,
        older_than=older_than.astimezone(dt.timezone.utc).isoformat(timespec="seconds"),
        snapshots_before=before,
        snapshots_expired=len(expired),
        snapshots_remaining=before - len(expired),
    )
    if not expired:
        return report
    expired_ids = {s.snapshot_id for s in expired}
    candidates = reachable_files(table, expired, live_only=False)
    if dry_run:
        kept = [s for s in table.metadata.snapshots if s.snapshot_id not in expired_ids]
        return replace(report, files_deleted=len(candidates - reachable_files(table, kept, live_only=True)))
    try:
        table.maintenance.expire_snapshots().by_ids(sorted(expired_ids)).commit()
    except Exception as exc:
        raise _step_error("snapshot expiry", table, exc) from None
    table.refresh()
    # Computed after the commit, so snapshots committed meanwhile by other writers are kept safe too.
    doomed = candidates - reachable_files(table, table.metadata.snapshots, live_only=True)
    failed = 0
    for path in sorted(doomed):
        try:
            table.io.delete(path)
        except Exception:  # an undeletable file stays an orphan; the table itself is consistent
            failed += 1
    return replace(
        report,
        applied=True,
        snapshots_remaining=len(table.metadata.snapshots),
        files_deleted=len(doomed) - failed,
        files_not_deleted=failed,
    )
