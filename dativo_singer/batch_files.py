"""singer-sdk BATCH messages: local Parquet files go straight to Arrow, no per-row Python."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq

from dativo_singer.errors import FatalError


@dataclass
class KeptFile:
    """A BATCH file a target commits as it is, without reading its rows (``ArrowSink.take_file``).

    ``position``: how many Arrow chunks the buffer held when it arrived (its place in the order of
    rows); ``columns``: the few columns the commit needs row by row (keys to merge on);
    ``versions``: distinct values of columns the commit needs only as a set (the source files and
    their versions: one row for a whole file, not one per row); ``handle``: the target's own
    reference to the placed file."""

    path: str
    rows: int
    nbytes: int
    columns: pa.Table | None = None
    handle: Any = None
    position: int = 0
    versions: pa.Table | None = None


def local_parquet_paths(encoding: Any, files: Sequence[str]) -> list[str] | None:
    """The local paths of a BATCH message's files when all are local Parquet, else None (the
    caller lets singer-sdk decode them record by record)."""
    if getattr(encoding, "format", None) != "parquet":
        return None
    # A file:// URL is percent-encoded (Path.as_uri): decoded, so a space or quote in a folder
    # or stream name still names the file.
    local = [
        unquote(f.removeprefix("file://")) if f.startswith("file://") else f
        for f in files
        if "://" not in f or f.startswith("file://")
    ]
    return local if len(local) == len(files) else None


def read_parquet_tables(paths: Sequence[str]) -> Iterator[pa.Table]:
    """Each file as one Arrow table, in order."""
    for path in paths:
        try:
            table = pq.read_table(path)
        except OSError as exc:  # missing or unreadable: one line, not a traceback
            raise FatalError(f"BATCH file {path}: cannot be read ({exc})") from None
        yield table
