"""Progress and log lines on stderr while a job runs."""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass

_LEVEL = re.compile(r"\|\s*(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s*\|")
# INFO is noise at run time; ERROR lines are folded into the run's one-line failure message.
_FORWARDED_LEVELS = {"WARNING"}


@dataclass
class Progress:
    """Prints a line per commit; forwards tap/target warnings (every line if verbose)."""

    job_label: str
    started: float
    verbose: bool = False

    def _emit(self, text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def commit(self, stream: str, rows: int, total: int) -> None:
        """A batch of ``rows`` was committed for ``stream``."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        self._emit(
            f"[{self.job_label}] {stream}: +{rows:,} rows committed, {total:,} total "
            f"({total / elapsed:,.0f} rows/s)"
        )

    def read(self, records: int) -> None:
        """Records relayed from the tap so far (reported every few seconds on long runs)."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        self._emit(f"[{self.job_label}] {records:,} records read ({records / elapsed:,.0f}/s)")

    def log(self, side: str, line: str) -> None:
        """A stderr line of the tap or target."""
        match = _LEVEL.search(line)
        if self.verbose or (match is not None and match.group(1) in _FORWARDED_LEVELS):
            self._emit(f"[{side}] {line}")
