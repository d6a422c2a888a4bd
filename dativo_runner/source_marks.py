"""Source marks: what a source's check before a run said about the source, kept beside the state
file with the bookmark that run committed (docs/ARCHITECTURE.md, "Nothing to do").

A mark is handed back to the next check only while the stream's bookmark, the target's committed
bookmark and the plan are all still the ones it was saved with; anything else (a reset or set
state, another worker's commit, a changed job, asset or policy) leaves the check without it, so
the run goes ahead. The file holds no secret: the plan is kept as a digest of the tap's config
and catalog without the connection's password or URL.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

# Config keys that may carry a secret: left out of the plan digest.
_SECRET_KEYS = ("password", "sqlalchemy_url")


def mark_path(state_file: Path) -> Path:
    """``.<job>.source-mark.json`` beside ``<job>.json`` (hidden: not a job's state file)."""
    return state_file.with_name(f".{state_file.stem}.source-mark.json")


def plan_digest(tap_config: dict[str, Any], catalog: dict[str, Any]) -> str:
    """A digest of what the tap is asked to read (tables, look-back, columns, policies)."""
    config = {k: v for k, v in tap_config.items() if k not in _SECRET_KEYS}
    text = json.dumps({"config": config, "catalog": catalog}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _bookmark(state: dict[str, Any] | None, stream: str) -> Any:
    return ((state or {}).get("bookmarks") or {}).get(stream)


def kept_mark(
    path: Path, stream: str, state: dict[str, Any] | None, committed: dict[str, Any] | None, plan: str
) -> dict[str, Any] | None:
    """The kept mark, if it was saved with the bookmark the run resumes from (``state``), which
    the target still holds with its data (``committed``), under the same plan; else None."""
    bookmark = _bookmark(state, stream)
    if bookmark is None or _bookmark(committed, stream) != bookmark:
        return None
    try:
        kept = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(kept, dict) or kept.get("bookmark") != bookmark or kept.get("plan") != plan:
        return None
    mark = kept.get("mark")
    return mark if isinstance(mark, dict) else None


def save_mark(path: Path, stream: str, state: dict[str, Any] | None, plan: str, mark: dict[str, Any]) -> None:
    """Keep ``mark`` with the stream's bookmark in ``state`` (what the run committed); written
    in one step (temp file, rename)."""
    bookmark = _bookmark(state, stream)
    if bookmark is None:
        forget_mark(path)
        return
    fd, tmp = tempfile.mkstemp(prefix=".mark-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"bookmark": bookmark, "plan": plan, "mark": mark}, handle, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


def forget_mark(path: Path) -> None:
    """Remove the kept mark (a run that did not succeed leaves no mark behind)."""
    path.unlink(missing_ok=True)
