"""What file taps share: finding local files, fingerprints and the file-version metadata columns.

A file tap sets three ``_sdc_`` properties on every record: the file (relative to ``base_dir``
when inside it), the line the record starts on, and the version of the file's content the record
belongs to. target-iceberg keeps ``_sdc_source_file`` and ``_sdc_source_version`` and replaces the
rows of a file's older versions (see docs/CSV.md, "Incremental by file").
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path
from typing import Any

FILES_STATE_KEY = "files"
SOURCE_FILE = "_sdc_source_file"
SOURCE_LINE = "_sdc_source_lineno"
SOURCE_VERSION = "_sdc_source_version"
SOURCE_FILE_NAME = "_sdc_source_file_name"  # remote files named by id (Drive) also carry their name
METADATA_PROPERTIES: dict[str, Any] = {
    SOURCE_FILE: {"type": ["string", "null"]},
    SOURCE_LINE: {"type": ["integer", "null"]},
    SOURCE_VERSION: {"type": ["string", "null"]},
}


def resolve_paths(pattern: str, base_dir: str | None) -> list[Path]:
    """Expand a path or glob (relative to ``base_dir``) into sorted existing files."""
    full = pattern if os.path.isabs(pattern) or not base_dir else os.path.join(base_dir, pattern)
    return sorted(Path(p) for p in glob.glob(full, recursive=True) if os.path.isfile(p))


def fingerprint(path: Path) -> dict[str, int]:
    """Size and modification time: a file whose fingerprint is unchanged is not read again."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def source_name(path: Path, base_dir: str | None) -> str:
    """The `_sdc_source_file` value: the path relative to ``base_dir`` when inside it."""
    if base_dir:
        try:
            return path.resolve().relative_to(Path(base_dir).resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def content_version(key: str, current: dict[str, int]) -> str:
    """A new `_sdc_source_version` for a file read from its start (16 hex digits)."""
    text = f"{key}:{current['size']}:{current['mtime_ns']}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]
