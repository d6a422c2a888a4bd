"""The progress report a target writes to stderr after each commit: ``dativo.commit {json}``.

It is the one line the runner reads from a target besides STATE (see docs/COMMIT_REPORT.md).
It goes to stderr, so stdout stays pure Singer for any Singer stack.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

COMMIT_REPORT_PREFIX = "dativo.commit"
_LINE = re.compile(re.escape(COMMIT_REPORT_PREFIX) + r" (\{.*\})\s*$")


@dataclass(frozen=True)
class CommitReport:
    """One commit (or dead-lettering) of one stream.

    ``table`` is where the data landed: the table identifier, or an object location prefix for
    targets without tables. ``rows`` were committed by this commit, ``total_rows`` by this run,
    ``table_rows`` are in the table after the commit.
    """

    stream: str
    table: str
    rows: int
    total_rows: int
    write_mode: str
    dead_letter_rows: int = 0
    dead_letter_path: str | None = None
    replaced_key_rows: int = 0  # rows this run committed, replaced by a later row of the same key
    snapshot_id: int | None = None
    metadata_location: str | None = None
    seconds: float = 0.0
    table_rows: int | None = None  # rows in the table after the commit (all runs), when known

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (the line's keys)."""
        return asdict(self)


def format_commit_report(report: CommitReport) -> str:
    """The stderr line: ``dativo.commit {"stream": ..., ...}`` (no trailing newline)."""
    values = report.to_dict()
    values["seconds"] = round(float(values["seconds"]), 3)
    return f"{COMMIT_REPORT_PREFIX} {json.dumps(values)}"


def parse_commit_report(line: str) -> CommitReport | None:
    """The report in a log line (it may carry a logger prefix), or None when the line has none.

    Unknown keys are ignored, so an older runner reads a newer target's reports."""
    match = _LINE.search(line)
    if match is None:
        return None
    try:
        values = json.loads(match.group(1))
    except json.JSONDecodeError:
        return None
    if not isinstance(values, dict) or "stream" not in values:
        return None
    known = {f.name for f in fields(CommitReport)}
    values = {k: v for k, v in values.items() if k in known}
    values.setdefault("table", "")
    values.setdefault("rows", 0)
    values.setdefault("total_rows", values["rows"])
    values.setdefault("write_mode", "append")
    return CommitReport(**values)
