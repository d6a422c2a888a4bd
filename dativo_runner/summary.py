"""The run summary: per stream rows, time, throughput and where the data landed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class StreamSummary:
    """One stream of one job run."""

    stream: str
    table: str
    rows: int = 0
    commits: int = 0
    seconds: float = 0.0
    snapshot_id: int | str | None = None  # the commit (Iceberg snapshot id, object manifest)
    metadata_location: str | None = None
    dead_letter_rows: int = 0
    dead_letter_path: str | None = None
    replaced_key_rows: int = 0  # rows repeating a primary key, replaced by a later row
    table_rows: int | None = None  # rows in the table after the run (all runs), when known

    @property
    def rows_per_second(self) -> float:
        """Throughput over the run's wall time."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass
class JobSummary:
    """One job run: status, exit code, streams and (on failure) the one-line error."""

    job: str
    tenant_id: str
    status: str = "running"
    exit_code: int = 0
    seconds: float = 0.0
    streams: list[StreamSummary] = field(default_factory=list)
    error: str | None = None
    state_file: str | None = None
    retriable: bool = False  # the failure was transient: running again may succeed
    partition: str | None = None  # the partition's key, for a partitioned job's run

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with rows/s per stream."""
        data = asdict(self)
        data["tenant_id"] = self.tenant_id or None  # an invalid job's tenant is not known
        if self.partition is None:
            del data["partition"]
        for stream, summary in zip(data["streams"], self.streams, strict=True):
            stream["rows_per_second"] = round(summary.rows_per_second, 1)
        return data


_STATUS_ORDER = ("succeeded", "partial", "failed", "invalid", "stopped")


def _status_line(job: JobSummary) -> str:
    """``job X (tenant T): failed in 0.79s (error above; transient: can be retried)``; the error
    itself is the ``dativo: error:`` line on stderr, not repeated here."""
    if job.status == "invalid":
        return f"job {job.job}: invalid (error above)"
    part = f" partition {job.partition}" if job.partition else ""
    line = f"job {job.job}{part} (tenant {job.tenant_id}): {job.status} in {job.seconds:.2f}s"
    if job.error:
        line += " (error above" + ("; transient: a rerun may succeed)" if job.retriable else ")")
    return line


def totals_line(jobs: list[JobSummary]) -> str:
    """``18 jobs: 8 succeeded, 1 partial, 9 failed`` (only the statuses that occur; ``runs`` when
    partitions ran, each counted)."""
    counts = {status: sum(1 for job in jobs if job.status == status) for status in _STATUS_ORDER}
    parts = [f"{count} {status}" for status, count in counts.items() if count]
    noun = "runs" if any(job.partition for job in jobs) else "jobs"  # a partition is a run of its own
    return f"{len(jobs)} {noun}: {', '.join(parts)}"


def render_text(jobs: list[JobSummary], *, many: bool = False) -> str:
    """A human-readable summary table; with ``many`` (a job folder) an overall line ends it."""
    lines = []
    for job in jobs:
        lines.append(_status_line(job))
        for s in job.streams:
            lines.append(
                f"  stream {s.stream}: {s.rows:,} rows in {s.seconds:.2f}s "
                f"({s.rows_per_second:,.0f} rows/s) -> {s.table}"
                + (f" snapshot {s.snapshot_id}" if s.snapshot_id is not None else "")
            )
            if s.dead_letter_rows:
                lines.append(f"    {s.dead_letter_rows:,} rows dead-lettered to {s.dead_letter_path}")
            if s.replaced_key_rows:
                lines.append(
                    f"    {s.replaced_key_rows:,} rows repeated a primary key: the later row of each landed"
                )
    if many:
        lines.append(totals_line(jobs))
    return "\n".join(lines)


def render_json(jobs: list[JobSummary], exit_code: int, *, many: bool) -> str:
    """One JSON object: a single job's summary, or ``{"jobs": [...], "exit_code": n}`` if ``many``."""
    if not many:
        return json.dumps(jobs[0].to_dict())
    return json.dumps({"exit_code": exit_code, "jobs": [j.to_dict() for j in jobs]})
