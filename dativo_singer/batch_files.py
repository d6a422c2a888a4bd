"""singer-sdk BATCH messages: local Parquet files go straight to Arrow, no per-row Python."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def local_parquet_paths(encoding: Any, files: Sequence[str]) -> list[str] | None:
    """The local paths of a BATCH message's files when all are local Parquet, else None (the
    caller lets singer-sdk decode them record by record)."""
    if getattr(encoding, "format", None) != "parquet":
        return None
    local = [f.removeprefix("file://") for f in files if "://" not in f or f.startswith("file://")]
    return local if len(local) == len(files) else None


def read_parquet_tables(paths: Sequence[str]) -> Iterator[pa.Table]:
    """Each file as one Arrow table, in order."""
    for path in paths:
        yield pq.read_table(path)
