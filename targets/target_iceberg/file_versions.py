"""Rows that carry their source file and its content version (tap-csv sends both): when a
file's new version arrives, the rows of its earlier versions are deleted in the same commit.

A file that only grew keeps its version, so its new rows are appended; a file edited before its
end gets a new version, and its rows replace the old ones, with or without a primary key. The
delete is idempotent (rows of ``file`` whose version is not ``version``), so a run killed half-way
through a new version and rerun loses and repeats nothing.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pyiceberg.expressions import And, BooleanExpression, EqualTo, IsNull, NotEqualTo, Or

SOURCE_FILE = "_sdc_source_file"
SOURCE_VERSION = "_sdc_source_version"
COLUMNS = frozenset({SOURCE_FILE, SOURCE_VERSION})


def carries_versions(singer_schema: dict[str, Any]) -> bool:
    """True when the stream's records declare both the source file and its version."""
    return set(singer_schema.get("properties") or {}) >= COLUMNS


# pyiceberg's expression classes have pydantic-typed constructors that mypy reads wrongly.
def _older(file: str, version: str) -> BooleanExpression:
    is_file = EqualTo(SOURCE_FILE, file)  # type: ignore[call-arg, arg-type]
    other = NotEqualTo(SOURCE_VERSION, version)  # type: ignore[call-arg, arg-type]
    none = IsNull(SOURCE_VERSION)  # type: ignore[call-arg, arg-type]
    return And(is_file, Or(none, other))


def superseded(data: pa.Table, seen: set[tuple[str, str]]) -> BooleanExpression | None:
    """A filter for the rows older versions left of the files whose version appears in ``data``
    for the first time (``seen`` is updated); None when there is nothing to replace."""
    if not set(data.column_names) >= COLUMNS or not data.num_rows:
        return None
    distinct = (
        data.select([SOURCE_FILE, SOURCE_VERSION]).group_by([SOURCE_FILE, SOURCE_VERSION]).aggregate([])
    )
    found = None
    for pair in distinct.to_pylist():
        file, version = pair[SOURCE_FILE], pair[SOURCE_VERSION]
        if not file or not version or (file, version) in seen:
            continue
        seen.add((file, version))
        clause = _older(file, version)
        found = clause if found is None else Or(found, clause)
    return found
