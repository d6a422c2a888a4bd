"""Rejected records, written as JSON lines with the reason, before the batch is committed."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from dativo_singer.conversion import Rejected
from dativo_singer.exact_json import exact_json


def write_dead_letters(folder: str, stream: str, rejected: list[Rejected]) -> Path:
    """Write ``<folder>/<stream>/<utc time>-<id>.jsonl``; one line per record:
    ``{"stream", "reason", "record"}``, and ``"raw"``: the RECORD message line as it came, when
    it came as a line. Numbers in ``record`` are exact (integers of any size, decimals' digits).
    Returns the file path."""
    directory = Path(folder) / stream
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = directory / f"{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
    with path.open("wb") as handle:
        for item in rejected:
            entry: dict[str, object] = {"stream": stream, "reason": item.reason, "record": item.record}
            if item.raw is not None:
                entry["raw"] = item.raw.decode("utf-8", errors="replace")
            handle.write(exact_json(entry))
            handle.write(b"\n")
    return path
