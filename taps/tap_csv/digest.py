"""The checksum of the rows read from a file, kept in tap-csv's per-file state."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

# The BATCH path's rows are joined and hashed here, one task at a time in order, while the main
# thread parses the next block (Arrow kernels and hashlib release the GIL).
_WORKER: ThreadPoolExecutor | None = None
_MOST_PENDING = 4  # blocks waiting to be hashed (bounds the memory they hold)


def _worker() -> ThreadPoolExecutor:
    global _WORKER
    if _WORKER is None:
        _WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="row-digest")
    return _WORKER


class RowDigest:
    """A running checksum of the rows read from a file: proves, on a later run, that the rows
    already loaded are still the file's first rows (the file only grew)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._pending: deque[Future[Any]] = deque()

    def add(self, row: list[str]) -> None:
        self._drain()
        self._hash.update("\x1f".join(row).encode("utf-8", "surrogatepass") + b"\x1e")

    def add_bytes(self, rows: memoryview) -> None:
        """Rows already joined as ``add`` joins them, back to back (the BATCH path)."""
        self._drain()
        self._hash.update(rows)

    def add_soon(self, rows: Callable[[], memoryview]) -> None:
        """``add_bytes(rows())``, computed and hashed in the worker thread after every row
        added before; ``hexdigest`` waits for it."""
        while len(self._pending) >= _MOST_PENDING:
            self._pending.popleft().result()
        self._pending.append(_worker().submit(lambda: self._hash.update(rows())))

    def hexdigest_soon(self) -> Future[str]:
        """The checksum of the rows added so far, computed in the worker after them (the state
        taken when a BATCH file is cut, announced later)."""
        future = _worker().submit(lambda: self._hash.copy().hexdigest())
        self._pending.append(future)  # rows added later wait for it
        return future

    def _drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()  # a failure in the worker is raised here

    def hexdigest(self) -> str:
        self._drain()
        return self._hash.hexdigest()
