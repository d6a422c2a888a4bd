"""Per-job Singer state files, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from dativo_runner.errors import ConfigError, Problem


def is_singer_state(value: object) -> bool:
    """A Singer state: a JSON object that is empty or keeps its bookmarks under ``bookmarks``
    (an object), as singer-sdk and the Singer spec's taps do."""
    if not isinstance(value, dict):
        return False
    return not value or isinstance(value.get("bookmarks"), dict)


class StateStore:
    """The state file of one job: ``<state_dir>/<tenant>/<job>.json`` by default."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        """The last saved state, or None before the first successful commit."""
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ConfigError([Problem(str(self.path), "", "state file is not valid JSON")]) from None
        except OSError as exc:
            raise ConfigError(
                [Problem(str(self.path), "", f"cannot read state file: {exc.strerror}")]
            ) from None
        if not is_singer_state(data):
            shape = (
                "an object without 'bookmarks'" if isinstance(data, dict) else f"a JSON {type(data).__name__}"
            )
            raise ConfigError(
                [
                    Problem(
                        str(self.path),
                        "",
                        f"not a Singer state ({shape}); fix or remove the file to read the source again",
                    )
                ]
            )
        assert isinstance(data, dict)
        return data

    def check_writable(self) -> None:
        """Fail now, naming the path, if the state file could not be saved after a commit."""
        problem = None
        if self.path.is_dir():
            problem = "is a folder"
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd, probe = tempfile.mkstemp(prefix=".probe-", dir=self.path.parent)
                os.close(fd)
                os.unlink(probe)
            except OSError as exc:
                problem = f"cannot be written ({exc.strerror or exc})"
        if problem:
            raise ConfigError([Problem(str(self.path), "", f"state file {problem}")])

    def save(self, state: dict[str, Any]) -> None:
        """Replace the state file in one step (temp file, fsync, rename): never half-written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
