"""The per-job lock: held by a run of a job for as long as it runs, so that commands that
change the job's state (`dativo state reset|set`) refuse while a run could overwrite them.

An advisory ``flock`` on ``<state folder>/<tenant>/.<job>.lock``: it goes with the process,
however the process ends (SIGKILL included), so a crashed run never leaves a stale lock (at most
an unlocked file). The holder removes the file before letting go; a process that locked a file
removed meanwhile sees that its inode is no longer the path's and takes the lock again.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from dativo_runner.errors import ConfigError, Problem


def lock_path(state_file: Path) -> Path:
    """The lock beside a job's state file: ``.<job>.lock``."""
    return state_file.parent / f".{state_file.stem}.lock"


class JobLock:
    """An exclusive, non-blocking lock on one job; ``acquire`` raises if another process holds it."""

    def __init__(self, path: Path, display: str | None = None) -> None:
        self.path = path
        self.display = display or str(path)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock now or raise a ConfigError naming the lock file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise ConfigError(
                    [
                        Problem(
                            self.display,
                            "",
                            "a run of this job is in progress (it holds this lock); wait for it to end",
                        )
                    ]
                ) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder removed the file between our open and flock: take the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file (while still holding it) and let the lock go."""
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JobLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def is_held(path: Path) -> bool:
    """True when a process holds the lock at ``path`` (tries it, and lets go at once)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
