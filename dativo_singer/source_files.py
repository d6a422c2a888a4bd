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
import threading
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


def content_version(key: str, current: dict[str, int], digest: str = "") -> str:
    """A new `_sdc_source_version` for a file read from its start (16 hex digits); ``digest``
    (its content's) tells apart versions with the same size and modification time."""
    text = f"{key}:{current['size']}:{current['mtime_ns']}" + (f":{digest}" if digest else "")
    return hashlib.sha256(text.encode()).hexdigest()[:16]


CONTENT_KEY = "sha256"  # a file's content digest in its state entry, once read to the end
_DIGEST_CHUNK = 1 << 20


def content_digest(path: Path) -> str:
    """SHA-256 of the file's bytes: its identity, whatever its name, size or modification time."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def content_unchanged(entry: dict[str, Any], path: Path) -> bool:
    """True when a file read to the end still has the content digest it had then (a state
    without one, from an earlier version, gets it now and trusts the fingerprint)."""
    digest = content_digest(path)
    known = entry.setdefault(CONTENT_KEY, digest)
    return bool(known == digest)


def known_and_unchanged(entry: dict[str, Any] | None, path: Path) -> bool:
    """True when ``path`` was read to the end under this state ``entry`` and has not changed
    since: same size, modification time and content digest. Read-only (unlike
    ``content_unchanged``): an entry without a digest is not known."""
    if not entry or not entry.get("done") or not entry.get(CONTENT_KEY):
        return False
    current = fingerprint(path)
    if any(entry.get(key) != value for key, value in current.items()):
        return False
    return bool(entry[CONTENT_KEY] == content_digest(path))


class BackgroundDigest:
    """``content_digest`` of a file, computed in a thread started now, while the file is read:
    file reads and hashlib release the GIL, so the digest costs no pass of its own after the
    rows. It is the digest of the content as the read began (the fingerprint's)."""

    def __init__(self, path: Path) -> None:
        self._digest: str | None = None
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), name="content-digest", daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            self._digest = content_digest(path)
        except OSError as exc:  # raised where the digest is wanted
            self._error = exc

    def result(self) -> str:
        """The digest (waits for the thread); the read's OSError if the file could not be read."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._digest is not None
        return self._digest


def finish_file(entry: dict[str, Any], path: Path, digest: BackgroundDigest | None = None) -> None:
    """Mark a file read to the end, with its content digest (its identity on later runs):
    ``digest``'s when one was started as the read began, else computed now."""
    entry["done"] = True
    entry[CONTENT_KEY] = digest.result() if digest is not None else content_digest(path)
