"""Table names of streams."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def table_name_for(stream_name: str, config: Mapping[str, Any]) -> str:
    """``table_names`` mapping, else the stream name in lower case with every character other
    than letters, digits and ``_`` replaced by ``_`` (safe in paths and SQL)."""
    mapping: dict[str, str] = config.get("table_names") or {}
    return mapping.get(stream_name) or re.sub(r"[^a-z0-9_]", "_", stream_name.lower())
