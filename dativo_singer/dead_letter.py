"""Rejected records, written as JSON lines with the reason, before the batch is committed."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import orjson

from dativo_singer.conversion import Rejected


def write_dead_letters(folder: str, stream: str, rejected: list[Rejected]) -> Path:
    """Write ``<folder>/<stream>/<utc time>-<id>.jsonl``; one line per record:
    ``{"stream", "reason", "record"}``. Returns the file path."""
    directory = Path(folder) / stream
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = directory / f"{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
    with path.open("wb") as handle:
        for item in rejected:
            handle.write(
                orjson.dumps(
                    {"stream": stream, "reason": item.reason, "record": item.record},
                    default=str,
                    option=orjson.OPT_NON_STR_KEYS,
                )
            )
            handle.write(b"\n")
    return path
