"""Finding tap and target programs: beside the running interpreter first, then on PATH."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def find_executable(name: str) -> str | None:
    """Full path of a console script, or None when it is not installed."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    return shutil.which(name)
