"""The checksum of the rows read from a file, kept in tap-csv's per-file state."""

from __future__ import annotations

import hashlib


class RowDigest:
    """A running checksum of the rows read from a file: proves, on a later run, that the rows
    already loaded are still the file's first rows (the file only grew)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def add(self, row: list[str]) -> None:
        self._hash.update("\x1f".join(row).encode("utf-8", "surrogatepass") + b"\x1e")

    def add_bytes(self, rows: memoryview) -> None:
        """Rows already joined as ``add`` joins them, back to back (the BATCH path)."""
        self._hash.update(rows)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
