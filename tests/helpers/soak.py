"""The soak harness: many consecutive incremental `dativo run`s of one job, with the source changed
between them; after every run the Iceberg table must equal the source (row for row on the key,
values compared), and with `dativo maintain` on a schedule its snapshots and data files stay bounded.

A source is described by a `SoakSource`: the job, the table, the compared columns, a ``mutate(run)``
that changes the source before run ``run`` (1, 2, ...) and an ``expected()`` that reads what the
source holds now. `DATIVO_SOAK_RUNS` sets the number of runs (`make test-soak`: 30).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from target_iceberg.catalog import open_catalog

from tests.helpers.project import Project

DEFAULT_RUNS = 3
MAINTAIN_EVERY = 5
KEEP_SNAPSHOTS = 3

Rows = dict[Any, tuple[Any, ...]]


def soak_runs() -> int | None:
    """`DATIVO_SOAK_RUNS` when set (every source soaks), else None (the small default)."""
    value = os.environ.get("DATIVO_SOAK_RUNS", "").strip()
    return int(value) if value else None


@dataclass
class SoakSource:
    """One job to soak and how to change and read its source."""

    name: str
    job: Path
    table: str
    key: str
    columns: tuple[str, ...]
    mutate: Callable[[int], None]
    expected: Callable[[], Rows]
    env: dict[str, str] = field(default_factory=dict)
    secrets_dir: str | None = None


@dataclass
class SoakReport:
    """What a soak observed, per run (after that run's maintenance, if any)."""

    source: str
    runs: int = 0
    rows: list[int] = field(default_factory=list)
    snapshots: list[int] = field(default_factory=list)
    data_files: list[int] = field(default_factory=list)
    maintained_after: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        """One JSON line for the soak report file (every check passed up to ``runs``)."""
        return json.dumps(
            {
                "source": self.source,
                "runs": self.runs,
                "rows_last": self.rows[-1] if self.rows else 0,
                "max_snapshots": max(self.snapshots, default=0),
                "max_data_files": max(self.data_files, default=0),
                "snapshots": self.snapshots,
                "data_files": self.data_files,
                "maintained_after": self.maintained_after,
                "seconds": round(self.seconds, 1),
                "mismatches": 0,
            }
        )


def normal(value: Any) -> Any:
    """A value in a form the source side and the Iceberg side share."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (Decimal, float)):
        return round(float(value), 6)
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return moment.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def normal_rows(rows: Rows) -> Rows:
    return {normal(k): tuple(normal(v) for v in values) for k, values in rows.items()}


def lake_rows(project: Project, source: SoakSource) -> tuple[Rows, int, int]:
    """The table's rows by key (a key landing twice fails), its snapshot and live data-file counts."""
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table(source.table)
    fields = (source.key, *source.columns)
    rows = table.scan(selected_fields=fields).to_arrow().to_pylist()
    by_key = {r[source.key]: tuple(r[c] for c in source.columns) for r in rows}
    assert len(by_key) == len(rows), f"{source.name}: {len(rows) - len(by_key)} rows landed twice"
    files = sum(1 for _ in table.scan().plan_files())
    return normal_rows(by_key), len(table.metadata.snapshots), files


def difference(got: Rows, want: Rows) -> str:
    """A short description of how two row sets differ."""
    missing = sorted(set(want) - set(got), key=str)[:5]
    extra = sorted(set(got) - set(want), key=str)[:5]
    changed = [(k, got[k], want[k]) for k in sorted(set(got) & set(want), key=str) if got[k] != want[k]][:5]
    return f"missing {missing}, extra {extra}, changed (lake, source) {changed}"


def _cli(project: Project, source: SoakSource, *args: str) -> Any:
    extra = ["--secrets-dir", source.secrets_dir] if source.secrets_dir else []
    return project.dativo(*args, "--config", str(source.job), *extra, env=source.env)


def soak(
    project: Project, source: SoakSource, runs: int, maintain_every: int = MAINTAIN_EVERY
) -> SoakReport:
    """Run the job ``runs`` times with ``mutate`` in between; check the table after every run;
    `dativo maintain` after every ``maintain_every``-th run and after the last one."""
    report = SoakReport(source.name)
    started = time.monotonic()
    for run in range(runs):
        if run:
            source.mutate(run)
        result = _cli(project, source, "run", "--json")
        assert result.returncode == 0, f"{source.name} run {run + 1}: {result.stderr[-3000:]}"
        got, _, _ = lake_rows(project, source)
        want = normal_rows(source.expected())
        assert got == want, f"{source.name} run {run + 1}: {difference(got, want)}"
        if (run + 1) % maintain_every == 0 or run == runs - 1:
            keep = ("--keep-snapshots", str(KEEP_SNAPSHOTS), "--older-than-hours", "0")
            done = _cli(project, source, "maintain", "--json", *keep)
            assert done.returncode == 0, f"{source.name} maintain after run {run + 1}: {done.stderr[-3000:]}"
            report.maintained_after.append(run + 1)
            after, _, _ = lake_rows(project, source)
            assert after == want, f"{source.name} maintain after run {run + 1}: {difference(after, want)}"
        _, snapshots, files = lake_rows(project, source)
        report.rows.append(len(got))
        report.snapshots.append(snapshots)
        report.data_files.append(files)
        report.runs = run + 1
        report.seconds = time.monotonic() - started
        _write_report(report)
    return report


def _write_report(report: SoakReport) -> None:
    """Append the report so far to `DATIVO_SOAK_REPORT` (one line per run; the last is final)."""
    out = os.environ.get("DATIVO_SOAK_REPORT")
    if out:
        with open(out, "a", encoding="utf-8") as handle:
            handle.write(report.line() + "\n")


def assert_bounded(report: SoakReport, maintain_every: int = MAINTAIN_EVERY, commits_per_run: int = 2) -> None:
    """Between two maintenances a run adds at most ``commits_per_run`` snapshots (and as many
    files per partition); maintenance brings both back down, so neither grows with the runs."""
    snapshot_bound = KEEP_SNAPSHOTS + 2 + commits_per_run * maintain_every
    assert max(report.snapshots) <= snapshot_bound, (report.snapshots, snapshot_bound)
    file_bound = 2 + commits_per_run * maintain_every  # one partition per table (ingest_date: today)
    assert max(report.data_files) <= file_bound, (report.data_files, file_bound)
    for after in report.maintained_after:
        assert report.snapshots[after - 1] <= KEEP_SNAPSHOTS, (after, report.snapshots)
    if len(report.maintained_after) >= 2:
        first = report.data_files[report.maintained_after[0] - 1]
        later = [report.data_files[a - 1] for a in report.maintained_after[1:]]
        # Compaction leaves one file per partition and bin, whatever the number of runs.
        assert max(later) <= max(first, 1) * 2 + 2, report.data_files
