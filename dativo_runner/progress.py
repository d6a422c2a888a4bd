"""How a run reports while it goes: the Reporter interface and its stderr implementation.

`run_job` writes nothing itself; it calls an injected Reporter, so the CLI prints lines on stderr
and an orchestrator can route the same events to its own log.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Protocol

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

    def _emit(self, text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def commit(self, stream: str, rows: int, total: int) -> None:
        """One progress line: rows added, total, rows/s since the run started."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        self._emit(
            f"[{self.job_label}] {stream}: +{rows:,} rows committed, {total:,} total "
            f"({total / elapsed:,.0f} rows/s)"
        )

    def read(self, records: int) -> None:
        """Records read so far and the rate."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        self._emit(f"[{self.job_label}] {records:,} records read ({records / elapsed:,.0f}/s)")

    def log(self, side: str, line: str) -> None:
        """Forward the line when verbose, or when it is a warning and warnings are shown."""
        match = _LEVEL.search(line)
        if self.verbose or (self.forward_warnings and match is not None and match.group(1) == "WARNING"):
            self._emit(f"[{side}] {line}")

    def warning(self, text: str) -> None:
        """``dativo: warning: ...``."""
        self._emit(f"dativo: warning: {text}")

    def note(self, text: str) -> None:
        """``dativo: ...``."""
        self._emit(f"dativo: {text}")
