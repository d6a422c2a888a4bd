"""Files only this user may read (0600), for configs that hold secrets while a program runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_private(folder: Path, name: str, data: dict[str, Any]) -> Path:
    """``data`` as JSON in a new file ``folder/name`` readable by its owner only."""
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    return path
