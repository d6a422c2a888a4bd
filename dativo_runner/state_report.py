"""What a job has bookmarked (`dativo state show`): the state file and the target's committed
bookmark, per stream, and which of them the next run resumes from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dativo_runner.errors import DativoError, Problem
from dativo_runner.job_lock import is_held, lock_path
from dativo_runner.state_override import ResumePoint, resume_point, split
from dativo_runner.state_store import StateStore
from dativo_singer.errors import DativoSingerError

if TYPE_CHECKING:
    from dativo_runner.job_config import Job

RESUME_TEXT = {
    "override": "the state file (written by `dativo state {action}` at {at}, over the target's bookmark)",
    "committed": "the bookmark committed in the target",
    "state_file": "the state file (the target keeps no bookmark)",
    "none": "nothing: the next run reads the source from the start",
}


@dataclass
class JobState:
    """Everything `dativo state` knows about one job's bookmarks."""

    job: Job
    store: StateStore
    target_config: dict[str, Any]
    saved: dict[str, Any] | None
    committed: dict[str, Any] | None
    location: str
    point: ResumePoint = field(init=False)

    def __post_init__(self) -> None:
        self.point = resume_point(self.saved, self.committed)

    @property
    def streams(self) -> list[str]:
        """The job's stream first, then any other stream a bookmark names."""
        names = [self.job.asset.object]
        for state in (split(self.saved)[0], self.committed):
            for name in _bookmarks(state):
                if name not in names:
                    names.append(name)
        return names

    @property
    def lock(self) -> Path:
        """The job's run lock."""
        return lock_path(self.store.path)


def load_job_state(job: Job, state_file: Path) -> JobState:
    """The state file and the target's committed bookmark (one error line if unreachable)."""
    store = StateStore(state_file)
    saved = store.load()
    target = job.target_plugin
    try:
        config = target.read_config(job)
        committed = target.committed_bookmark(job, config, job.asset.object)
        location = target.location(job, config, job.asset.object)
    except DativoSingerError as exc:
        raise DativoError([Problem(job.file, "target", str(exc))]) from None
    return JobState(job, store, config, saved, committed, location)


def _bookmarks(state: dict[str, Any] | None) -> dict[str, Any]:
    value = (state or {}).get("bookmarks")
    return value if isinstance(value, dict) else {}


def stream_bookmark(state: dict[str, Any] | None, stream: str) -> dict[str, Any] | None:
    """One stream's bookmark in a Singer state (None when it has none)."""
    value = _bookmarks(state).get(stream)
    return value if isinstance(value, dict) else None


def _row_count(entry: dict[str, Any], where: tuple[str, str]) -> int:
    """A file bookmark's ``rows``; a value that is not a count names the state file and field."""
    rows = entry.get("rows") or 0
    if isinstance(rows, int) and not isinstance(rows, bool) and rows >= 0:
        return rows
    file, field = where
    raise DativoError(
        [
            Problem(
                file,
                f"{field}.rows",
                f"{rows!r} is not a row count: fix the value, or `dativo state reset` to read the file again",
            )
        ]
    )


def describe(
    bookmark: dict[str, Any] | None, home_display: Any = str, where: tuple[str, str] = ("state", "bookmark")
) -> list[str]:
    """A bookmark in words: per-file positions (file taps), a replication key's value, partitions;
    ``where`` is the (file, field) the bookmark came from, for a value that cannot be shown."""
    if not bookmark:
        return ["no bookmark (the stream is read from the start)"]
    lines: list[str] = []
    files = bookmark.get("files")
    if isinstance(files, dict):
        done = sum(1 for entry in files.values() if isinstance(entry, dict) and entry.get("done"))
        lines.append(f"{len(files)} file(s), {done} read to the end")
        for name, entry in sorted(files.items()):
            entry = entry if isinstance(entry, dict) else {}
            state = "read to the end" if entry.get("done") else "partly read"
            version = f", version {entry['version']}" if entry.get("version") else ""
            rows = _row_count(entry, (where[0], f"{where[1]}.files[{name!r}]"))
            lines.append(f"  {home_display(Path(name))}: {rows:,} rows{version}, {state}")
    if "replication_key" in bookmark or "replication_key_value" in bookmark:
        lines.append(
            f"replication key {bookmark.get('replication_key') or '?'} = "
            f"{json.dumps(bookmark.get('replication_key_value'))}"
        )
    markers = bookmark.get("progress_markers")
    if isinstance(markers, dict) and markers:
        lines.append(f"an unfinished sync's progress marker: {json.dumps(markers, sort_keys=True)}")
    partitions = bookmark.get("partitions")
    if isinstance(partitions, list) and partitions:
        lines.append(f"{len(partitions)} partition(s):")
        lines.extend(f"  {json.dumps(p, sort_keys=True)}" for p in partitions)
    known = {"files", "replication_key", "replication_key_value", "progress_markers", "partitions"}
    rest = {k: v for k, v in bookmark.items() if k not in known}
    if rest:
        lines.append(json.dumps(rest, sort_keys=True, default=str))
    return lines


def as_dict(state: JobState) -> dict[str, Any]:
    """The report as one JSON-serializable object."""
    job = state.job
    clean, override = split(state.saved)
    streams = []
    for name in state.streams:
        saved = stream_bookmark(clean, name)
        committed = stream_bookmark(state.committed, name)
        streams.append(
            {
                "stream": name,
                "state_file": saved,
                "committed": committed,
                "same": saved == committed,
                "resumes_from": stream_bookmark(state.point.state, name),
            }
        )
    return {
        "job": job.file,
        "tenant_id": job.tenant_id,
        "state_file": job.home.display(state.store.path),
        "state_file_exists": state.saved is not None,
        "target": state.location,
        "target_keeps_bookmark": state.committed is not None,
        "run_in_progress": is_held(state.lock),
        "resume_from": state.point.source,
        "override": override.as_dict() if override else None,
        "streams": streams,
    }


def as_text(state: JobState) -> str:
    """The report as lines."""
    data = as_dict(state)
    job, point = state.job, state.point
    lines = [f"{data['job']} (tenant {data['tenant_id']})"]
    saved_note = "" if data["state_file_exists"] else " (none yet)"
    lines.append(f"state file: {data['state_file']}{saved_note}")
    kept = "holds a committed bookmark" if data["target_keeps_bookmark"] else "holds no committed bookmark"
    lines.append(f"target: {data['target']} ({kept})")
    if data["run_in_progress"]:
        lines.append(f"a run of this job is in progress (lock {job.home.display(state.lock)})")
    override = point.override
    resume = RESUME_TEXT[point.source].format(
        action=override.action if override else "", at=override.at if override else ""
    )
    lines.append(f"next run resumes from: {resume}")
    if point.superseded and override is not None:
        lines.append(
            f"  (`dativo state {override.action}` of {override.at} was superseded by a later commit)"
        )
    for stream in data["streams"]:
        lines.append(f"stream {stream['stream']}:")
        display = job.home.display
        lines.append("  state file:")
        where = (data["state_file"], f"bookmarks.{stream['stream']}")
        lines.extend(f"    {line}" for line in describe(stream["state_file"], display, where))
        if not data["target_keeps_bookmark"]:
            continue
        if stream["same"]:
            lines.append("  committed in the target: the same")
        else:
            lines.append("  committed in the target:")
            committed_at = (data["target"], f"committed bookmark {stream['stream']}")
            lines.extend(f"    {line}" for line in describe(stream["committed"], display, committed_at))
    return "\n".join(lines)
