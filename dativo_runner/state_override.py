"""A bookmark changed by hand (`dativo state reset|set`) that the next run must honour.

A target that commits its bookmark with the data is normally the truth: a state file that
differs from it is taken as stale and replaced (runner ``_resume_state``). A reset that only
rewrote the state file would therefore be undone by the next run. So the state file that
`dativo state` writes carries a marker under ``dativo_override``: what was done, when, and a
fingerprint of the target's committed bookmark at that moment. The runner resumes from the
state file over the committed bookmark while that bookmark is still the one the marker names
(no run committed since); the first STATE the next run saves replaces the file, marker and all.
A run that committed after the change (e.g. it crashed before saving the file) wins again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

OVERRIDE_KEY = "dativo_override"


def fingerprint(state: dict[str, Any] | None) -> str | None:
    """A short stable digest of a committed bookmark (None when there is none)."""
    if state is None:
        return None
    text = json.dumps(state, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Override:
    """The marker: the action, its time, the streams it changed and the bookmark it overrides."""

    action: str
    at: str
    streams: tuple[str, ...]
    committed: str | None
    backup: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The marker as stored in the state file."""
        return {
            "action": self.action,
            "at": self.at,
            "streams": list(self.streams),
            "committed": self.committed,
            "backup": self.backup,
        }

    def overrides(self, committed: dict[str, Any] | None) -> bool:
        """True while the target's committed bookmark is still the one this change replaced."""
        return fingerprint(committed) == self.committed


def mark(
    state: dict[str, Any],
    action: str,
    streams: list[str],
    committed: dict[str, Any] | None,
    backup: str | None,
) -> dict[str, Any]:
    """``state`` with a marker saying it was set by hand over ``committed``."""
    override = Override(
        action=action,
        at=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        streams=tuple(streams),
        committed=fingerprint(committed),
        backup=backup,
    )
    return {**{k: v for k, v in state.items() if k != OVERRIDE_KEY}, OVERRIDE_KEY: override.as_dict()}


def split(state: dict[str, Any] | None) -> tuple[dict[str, Any] | None, Override | None]:
    """The Singer state without the marker (what a tap may see), and the marker if any."""
    if not state or OVERRIDE_KEY not in state:
        return state, None
    raw = state.get(OVERRIDE_KEY)
    clean = {k: v for k, v in state.items() if k != OVERRIDE_KEY}
    if not isinstance(raw, dict):
        return clean, None
    override = Override(
        action=str(raw.get("action") or "set"),
        at=str(raw.get("at") or "?"),
        streams=tuple(str(s) for s in raw.get("streams") or ()),
        committed=raw.get("committed") if isinstance(raw.get("committed"), str) else None,
        backup=raw.get("backup") if isinstance(raw.get("backup"), str) else None,
    )
    return clean, override


@dataclass(frozen=True)
class ResumePoint:
    """The state the next run starts from, and where it comes from: ``override`` (a state file
    `dativo state` wrote), ``committed`` (the target's bookmark), ``state_file`` or ``none``."""

    state: dict[str, Any] | None
    source: str
    override: Override | None = None
    superseded: bool = False


def resume_point(saved: dict[str, Any] | None, committed: dict[str, Any] | None) -> ResumePoint:
    """What `dativo run` resumes from, given the state file and the target's committed bookmark."""
    state, override = split(saved)
    if override is not None and override.overrides(committed):
        return ResumePoint(state, "override", override)
    if committed is not None:
        return ResumePoint(committed, "committed", override, superseded=override is not None)
    if state is not None:
        return ResumePoint(state, "state_file", override)
    return ResumePoint(None, "none", override)
