"""How a run reports while it goes: the Reporter interface and its stderr implementation.

`run_job` writes nothing itself; it calls an injected Reporter, so the CLI prints lines on stderr
and an orchestrator can route the same events to its own log.
"""

from __future__ import annotations

import re
import time
from typing import Any, Protocol

from dativo_runner.log_lines import emit

_LEVEL = re.compile(r"\|\s*(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s*\|")
_ORDER = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}


class Reporter(Protocol):
    """Receives a run's events (already redacted)."""

    def commit(self, stream: str, rows: int, total: int) -> None:
        """``rows`` were committed for ``stream`` (``total`` in this run so far)."""

    def read(self, records: int) -> None:
        """Records relayed from the tap so far (every few seconds on long runs)."""

    def log(self, side: str, line: str) -> None:
        """A stderr line of the tap or the target."""

    def warning(self, text: str) -> None:
        """Something the user should know that does not stop the run."""

    def note(self, text: str) -> None:
        """A one-off informational line (e.g. the state was taken from the table)."""


class StderrReporter:
    """Prints a line per commit and forwards tap/target warnings (every line if verbose; none
    when the job's ``logging.level`` is ERROR). Their ERROR lines are not forwarded: the run's
    one-line failure message is made from them."""

    def __init__(self, job_label: str, *, verbose: bool = False, level: str = "INFO") -> None:
        self.job_label = job_label
        self.started = time.monotonic()
        self.verbose = verbose
        self.forward_warnings = _ORDER.get(level.upper(), 20) <= _ORDER["WARNING"]

    def _rate(self, count: int) -> tuple[float, float]:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return elapsed, count / elapsed

    def _emit(self, level: str, event: str, message: str, text: str, **fields: Any) -> None:
        emit(level, event, message, text=text, job=self.job_label, **fields)

    def commit(self, stream: str, rows: int, total: int) -> None:
        """One progress line: rows added, total, rows/s since the run started."""
        elapsed, rate = self._rate(total)
        message = f"{stream}: +{rows:,} rows committed, {total:,} total ({rate:,.0f} rows/s)"
        self._emit(
            "info",
            "commit",
            message,
            f"[{self.job_label}] {message}",
            stream=stream,
            rows=rows,
            total=total,
            rows_per_second=round(rate, 1),
            elapsed_seconds=round(elapsed, 3),
        )

    def read(self, records: int) -> None:
        """Records read so far and the rate."""
        elapsed, rate = self._rate(records)
        message = f"{records:,} records read ({rate:,.0f}/s)"
        self._emit(
            "info",
            "read",
            message,
            f"[{self.job_label}] {message}",
            records=records,
            records_per_second=round(rate, 1),
            elapsed_seconds=round(elapsed, 3),
        )

    def _forwarded(self, line: str) -> str | None:
        """The level of a tap/target line when it is shown, else None."""
        match = _LEVEL.search(line)
        level = match.group(1) if match is not None else None
        if self.verbose or (self.forward_warnings and level == "WARNING"):
            return (level or "INFO").lower()
        return None

    def log(self, side: str, line: str) -> None:
        """Forward the line when verbose, or when it is a warning and warnings are shown."""
        level = self._forwarded(line)
        if level is not None:
            self._emit(level, "connector_log", line, f"[{side}] {line}", side=side)

    def warning(self, text: str) -> None:
        """``dativo: warning: ...``."""
        self._emit("warning", "warning", text, f"dativo: warning: {text}")

    def note(self, text: str) -> None:
        """``dativo: ...``."""
        self._emit("info", "note", text, f"dativo: {text}")

    def close(self) -> None:
        """The job ended (nothing to finish for plain lines)."""
