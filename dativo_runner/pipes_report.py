"""`dativo run` reporting to Dagster through Dagster Pipes, when (and only when) Dagster launched it.

The orchestrated mode runs every job as ``dativo run --config F`` under Dagster's Pipes client, so
the CLI and Dagster share one runner. Launched that way (Dagster sets ``DAGSTER_PIPES_CONTEXT``), a
run also sends its redacted progress and tap/target log lines to Dagster's event log, a
materialization with rows, duration, table, snapshot and location, the ``no_rejected_records``
check (a WARN failure on a partial run), and its outcome with the CLI's one-line error. The
materialization also carries the committed bookmark and, for a partition's run, its key.
Otherwise nothing here is imported.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from dativo_runner.home import ProjectHome
from dativo_runner.job_config import Job
from dativo_runner.summary import JobSummary

PIPES_ENV = "DAGSTER_PIPES_CONTEXT"
NO_REJECTED_RECORDS = "no_rejected_records"
OUTCOME_MESSAGE = "dativo_outcome"
_LEVEL = re.compile(r"\|\s*(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s*\|")
_ORDER = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def launched_by_dagster() -> PipesRun | None:
    """The Pipes session of this run, or None when Dagster did not launch it."""
    if not os.environ.get(PIPES_ENV):
        return None
    return PipesRun()


class PipesReporter:
    """A runner Reporter writing to Dagster's event log (lines arrive redacted)."""

    def __init__(self, pipes: Any, label: str, level: str) -> None:
        self.pipes = pipes
        self.label = label
        self.level = _ORDER.get(level.upper(), 20)

    def commit(self, stream: str, rows: int, total: int) -> None:
        """One line per commit."""
        self.pipes.log.info(f"[{self.label}] {stream}: +{rows:,} rows committed, {total:,} total")

    def read(self, records: int) -> None:
        """Records read so far."""
        self.pipes.log.info(f"[{self.label}] {records:,} records read")

    def log(self, side: str, line: str) -> None:
        """A tap/target line at its own level, when at or above the job's ``logging.level``."""
        match = _LEVEL.search(line)
        level = match.group(1) if match else "INFO"
        if _ORDER[level] < self.level:
            return
        write = {"DEBUG": self.pipes.log.debug, "WARNING": self.pipes.log.warning}.get(level)
        if level in ("ERROR", "CRITICAL"):
            write = self.pipes.log.error
        (write or self.pipes.log.info)(f"[{side}] {line}")

    def warning(self, text: str) -> None:
        """``dativo: warning: ...``."""
        self.pipes.log.warning(f"dativo: warning: {text}")

    def note(self, text: str) -> None:
        """``dativo: ...``."""
        self.pipes.log.info(f"dativo: {text}")


def _error_line(summary: JobSummary) -> str | None:
    """The line the CLI prints on stderr for this job."""
    if not summary.error:
        return None
    if summary.status == "invalid":  # the error already names the file
        return f"dativo: error: {summary.error}"
    return f"dativo: error: {summary.job}: {summary.error}"


def _bookmark(home: ProjectHome | None, state_file: str | None) -> Any:
    """The bookmarks of the state the run committed (its state file), or None."""
    if home is None or not state_file:
        return None
    try:
        state = json.loads(Path(home.resolve(state_file)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state.get("bookmarks", state) if isinstance(state, dict) else None


def _metadata(summary: JobSummary, home: ProjectHome | None = None) -> dict[str, Any]:
    stream = summary.streams[0]
    data: dict[str, Any] = {
        "rows": {"raw_value": stream.rows, "type": "int"},  # this run's
        "commits": {"raw_value": stream.commits, "type": "int"},
        "duration_seconds": {"raw_value": round(summary.seconds, 3), "type": "float"},
        "rows_per_second": {"raw_value": round(stream.rows_per_second, 1), "type": "float"},
        "table": {"raw_value": stream.table, "type": "text"},
        "status": {"raw_value": summary.status, "type": "text"},
        "exit_code": {"raw_value": summary.exit_code, "type": "int"},
        "job": {"raw_value": summary.job, "type": "text"},
        "tenant": {"raw_value": summary.tenant_id, "type": "text"},
    }
    if stream.table_rows is not None:  # the table's, all runs (a target without tables: none)
        data["dagster/row_count"] = {"raw_value": stream.table_rows, "type": "int"}
    if stream.snapshot_id is not None:
        data["snapshot_id"] = {"raw_value": str(stream.snapshot_id), "type": "text"}
    if stream.metadata_location:
        kind = "url" if "://" in stream.metadata_location else "path"
        data["location"] = {"raw_value": stream.metadata_location, "type": kind}
    if summary.state_file:
        data["state_file"] = {"raw_value": summary.state_file, "type": "path"}
    for name, value in sorted(stream.source_metrics.items()):  # the tap's gauges (a slot's lag)
        data[name] = {"raw_value": value, "type": "int" if isinstance(value, int) else "float"}
    if summary.partition is not None:
        data["partition"] = {"raw_value": summary.partition, "type": "text"}
    bookmark = _bookmark(home, summary.state_file)
    if bookmark is not None:  # where the next run of this table (or partition) starts
        data["bookmark"] = {"raw_value": bookmark, "type": "json"}
    if stream.dead_letter_rows:
        data["dead_letter_rows"] = {"raw_value": stream.dead_letter_rows, "type": "int"}
        data["dead_letter_path"] = {"raw_value": stream.dead_letter_path or "", "type": "path"}
    return data


class PipesRun:
    """The Pipes session of one `dativo run --config F` launched by Dagster."""

    def __init__(self) -> None:
        from dagster_pipes import open_dagster_pipes

        self.pipes = open_dagster_pipes()
        self.home: ProjectHome | None = None

    def reporter(self, job: Job) -> PipesReporter:
        """The reporter that run_job writes to."""
        self.home = job.home
        return PipesReporter(self.pipes, f"{job.tenant_id}/{job.name}", job.log_level)

    def finish(self, summaries: list[JobSummary], exit_code: int) -> None:
        """Report the materialization, the check and the outcome, then close the session."""
        summary = summaries[0] if summaries else None
        if summary is not None and summary.streams and summary.exit_code in (0, 1):
            self.pipes.report_asset_materialization(metadata=_metadata(summary, self.home))
            rejected = sum(s.dead_letter_rows for s in summary.streams)
            self.pipes.report_asset_check(
                NO_REJECTED_RECORDS,
                passed=rejected == 0,
                severity="WARN",
                metadata={"dead_letter_rows": {"raw_value": rejected, "type": "int"}},
            )
        error = _error_line(summary) if summary is not None else None
        if error:
            self.pipes.log.error(error)
        self.pipes.report_custom_message(
            {
                "kind": OUTCOME_MESSAGE,
                "exit_code": exit_code,
                "status": summary.status if summary else "failed",
                "error": error,
            }
        )
        self.pipes.close()
