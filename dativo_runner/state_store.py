"""Per-job Singer state files, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from dativo_runner.errors import ConfigError, Problem


class StateStore:
    """The state file of one job: ``<state_dir>/<tenant>/<job>.json`` by default."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        """The last saved state, or None before the first successful commit."""
        if not self.path.is_file():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise ConfigError([Problem(str(self.path), "", "state file is not valid JSON")]) from None
        return data if isinstance(data, dict) else None

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
