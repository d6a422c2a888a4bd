"""A client-side request rate limit: at most N requests per second, spaced evenly."""

from __future__ import annotations

import threading
import time


class RequestRateLimiter:
    """Blocks before each request so that no more than ``per_second`` start in any second.

    ``per_second`` 0 (or less) means no limit. One limiter is shared by every stream of a tap,
    since vendors count requests per account, not per endpoint."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Sleep until the next request may start; the seconds slept."""
        if self.interval <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        delay = start - now
        if delay > 0:
            time.sleep(delay)
        return delay

    def pause_for(self, seconds: float) -> None:
        """Hold every request back for ``seconds`` (the server said its window is spent)."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)
