"""A live progress line for `dativo run` on a terminal (rich), and the choice of reporter.

On a terminal one line is redrawn in place: job, stream, rows committed, records read, rows/s and
elapsed time; warnings and forwarded tap/target lines are printed above it. When stderr is not a
terminal, is narrower than 80 columns or of unknown width, or the log format is JSON, the plain
StderrReporter lines are written instead.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

from dativo_runner.log_lines import is_json, redact
from dativo_runner.progress import StderrReporter

#: Narrower than this, the live line's columns would be cut to fragments: plain lines instead.
MIN_LIVE_WIDTH = 80


def terminal_width(stream: TextIO) -> int | None:
    """``COLUMNS``, else the terminal's own size; None when neither says (a pty of size 0)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        width = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return None
    return width or None


def wants_live_line(stream: TextIO | None = None) -> bool:
    """A live line only on an interactive terminal at least ``MIN_LIVE_WIDTH`` columns wide (a
    known width), in text format, unless TERM is dumb."""
    stream = stream or sys.stderr
    interactive = hasattr(stream, "isatty") and stream.isatty()
    if not interactive or is_json() or os.environ.get("TERM", "") == "dumb":
        return False
    width = terminal_width(stream)
    return width is not None and width >= MIN_LIVE_WIDTH


class LiveReporter(StderrReporter):
    """StderrReporter whose progress lines are one live line on the terminal; call ``close()``
    when the job ends (the last state of the line stays on screen)."""

    def __init__(self, job_label: str, *, verbose: bool = False, level: str = "INFO") -> None:
        super().__init__(job_label, verbose=verbose, level=level)
        from rich.console import Console  # imported only when a terminal shows the line
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.console = Console(stderr=True, highlight=False)
        self.progress = Progress(
            SpinnerColumn(finished_text="•"),
            TextColumn("[bold]{task.description}"),
            TextColumn("{task.fields[stream]}"),
            TextColumn("{task.fields[rows]:>12,} rows"),
            TextColumn("{task.fields[read]}"),
            TextColumn("{task.fields[rate]:>10,.0f} rows/s"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.rows = 0
        self.task: Any = self.progress.add_task(job_label, total=None, stream="", rows=0, read="", rate=0.0)
        self.progress.start()

    def _update(self) -> None:
        _, rate = self._rate(self.rows)
        self.progress.update(self.task, rate=rate)

    def commit(self, stream: str, rows: int, total: int) -> None:
        """The line shows the stream and its committed rows."""
        self.rows = total
        self.progress.update(self.task, stream=stream, rows=total)
        self._update()

    def read(self, records: int) -> None:
        """The line shows the records read from the tap so far."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        self.progress.update(self.task, read=f"{records:,} read ({records / elapsed:,.0f}/s)")
        self._update()

    def _emit(self, level: str, event: str, message: str, text: str, **fields: object) -> None:
        self.console.print(redact(text), markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        """Stop redrawing; the final line stays."""
        self._update()
        self.progress.update(self.task, total=1, completed=1)
        self.progress.stop()


def make_reporter(job_label: str, *, verbose: bool, level: str) -> StderrReporter:
    """The live reporter on a terminal, else the plain one."""
    if wants_live_line():
        return LiveReporter(job_label, verbose=verbose, level=level)
    return StderrReporter(job_label, verbose=verbose, level=level)
