"""Changing a job's bookmarks (`dativo state reset|set`): safely, under the job's lock, with a
backup of what the next run would otherwise have resumed from, and a marker the runner honours
over the target's committed bookmark (dativo_runner/state_override.py)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.job_lock import JobLock
from dativo_runner.state_override import mark
from dativo_runner.state_report import JobState, stream_bookmark
from dativo_runner.state_store import StateStore, is_singer_state
from dativo_singer.value_contract import parse_datetime

if TYPE_CHECKING:
    from dativo_runner.job_config import Job


@dataclass(frozen=True)
class Change:
    """What `reset` or `set` did."""

    action: str
    streams: list[str]
    backup: str | None
    state: dict[str, Any]


def backup_path(state_file: Path) -> Path:
    """``.backups/<job>.<UTC time>.json`` beside the state file."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return state_file.parent / ".backups" / f"{state_file.stem}.{stamp}.json"


def _problem(job: Job, field: str, message: str) -> ConfigError:
    return ConfigError([Problem(job.file, field, message)])


def check_stream(state: JobState, stream: str) -> str:
    """``stream`` if the job reads it or a bookmark names it; else one error line."""
    if stream not in state.streams:
        raise _problem(
            state.job,
            "--stream",
            f"{stream!r} is not a stream of this job (streams: {', '.join(state.streams)})",
        )
    return stream


def _apply(state: JobState, action: str, streams: list[str], new: dict[str, Any]) -> Change:
    """Back up the current resume point, then save ``new`` with the override marker, holding
    the job's lock (refused while a run holds it)."""
    job = state.job
    lock = JobLock(state.lock, job.home.display(state.lock))
    with lock:
        backup = None
        previous = state.point.state
        if previous is not None or state.saved is not None:
            path = backup_path(state.store.path)
            StateStore(path).save(previous if previous is not None else {"bookmarks": {}})
            backup = job.home.display(path)
        marked = mark(new, action, streams, state.committed, backup)
        state.store.save(marked)
    return Change(action, streams, backup, new)


def reset(state: JobState, stream: str | None) -> Change:
    """Forget every stream's bookmark, or one stream's: the next run reads it from the start."""
    base = state.point.state or {}
    if stream is None:
        return _apply(state, "reset", state.streams, {"bookmarks": {}})
    check_stream(state, stream)
    bookmarks = {k: v for k, v in (base.get("bookmarks") or {}).items() if k != stream}
    return _apply(state, "reset", [stream], {**base, "bookmarks": bookmarks})


def set_state(state: JobState, whole: dict[str, Any]) -> Change:
    """Replace the whole Singer state (e.g. a backup being restored)."""
    if not is_singer_state(whole):
        raise _problem(state.job, "--file", "not a Singer state (a JSON object with 'bookmarks')")
    return _apply(state, "set", sorted(whole.get("bookmarks") or {}), whole)


def set_bookmark(state: JobState, stream: str, bookmark: dict[str, Any]) -> Change:
    """Replace one stream's bookmark."""
    check_stream(state, stream)
    base = state.point.state or {}
    bookmarks = {**(base.get("bookmarks") or {}), stream: bookmark}
    return _apply(state, "set", [stream], {**base, "bookmarks": bookmarks})


def replication_key(state: JobState, stream: str) -> str:
    """The stream's replication key: its bookmark's, else the job's cursor column."""
    current = stream_bookmark(state.point.state, stream) or {}
    key = current.get("replication_key") or (
        state.job.incremental.cursor_field if stream == state.job.asset.object else None
    )
    if not key:
        raise _problem(
            state.job,
            "--value",
            f"stream {stream!r} has no replication key (it is bookmarked per file or not at all); "
            "give its whole bookmark with --bookmark JSON",
        )
    return str(key)


def parse_value(job: Job, key: str, text: str) -> Any:
    """``text`` as a value of column ``key`` (an integer, a number, an ISO date or timestamp,
    or a string); one error line when it is not one."""
    if not text.strip() or "\n" in text:
        raise _problem(job, "--value", "must be one non-empty line")
    spec = next((f for f in job.asset.fields if f.name == key), None)
    schema = spec.json_schema() if spec is not None else {"type": "string"}
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    try:
        if "integer" in kinds:
            return int(text)
        if "number" in kinds:
            return float(text) if not text.lstrip("-").isdigit() else int(text)
        if schema.get("format") == "date-time":
            parsed = parse_datetime(text)
            return parsed.isoformat() if parsed.tzinfo else parsed.isoformat() + "+00:00"
        if schema.get("format") == "date":
            return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        kind = schema.get("format") or next(k for k in kinds if k != "null")
        raise _problem(job, "--value", f"{text!r} is not a {kind} (the type of {key})") from None
    return text


def parse_bookmark(job: Job, text: str) -> dict[str, Any]:
    """``--bookmark``: one JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _problem(job, "--bookmark", f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise _problem(job, "--bookmark", f"must be a JSON object, not a JSON {type(value).__name__}")
    return value


def read_state_file(job: Job, path: Path) -> dict[str, Any]:
    """``--file``: a Singer state in a JSON file."""
    try:
        value = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise _problem(job, "--file", f"{path}: not found") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _problem(job, "--file", f"{path}: not a JSON file ({exc})") from None
    if not is_singer_state(value):
        raise _problem(job, "--file", f"{path}: not a Singer state (a JSON object with 'bookmarks')")
    assert isinstance(value, dict)
    return {k: v for k, v in value.items() if k != "dativo_override"}
