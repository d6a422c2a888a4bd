"""A missing job file: name the job files of this home it may mean (the original product's
examples used ``configs/jobs/<name>.yaml``; jobs live in ``jobs/<tenant>/`` here)."""

from __future__ import annotations

import difflib
from pathlib import Path

from dativo_runner.home import ProjectHome

_MAX_HINTS = 3


def job_file_hint(path: Path, home: ProjectHome) -> str:
    """`` (jobs live in jobs/<tenant>/: did you mean X?)`` for a job file that does not exist,
    or "" when no job file of the home resembles it."""
    jobs = sorted(p for p in (home.root / "jobs").glob("*/*.yaml") if p.is_file())
    if not jobs:
        return ""
    words = [w for w in path.stem.lower().replace("-", "_").split("_") if w]
    named = [p for p in jobs if words and all(w in p.stem.lower() for w in words)]
    close = difflib.get_close_matches(path.stem, [p.stem for p in jobs], n=_MAX_HINTS, cutoff=0.6)
    picked = named or [p for p in jobs if p.stem in close]
    if not picked:
        return ""
    shown = " or ".join(home.display(p) for p in picked[:_MAX_HINTS])
    return f" (job files live in jobs/<tenant>/ in this home: did you mean {shown}?)"
