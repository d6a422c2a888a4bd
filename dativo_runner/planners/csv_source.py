"""tap-csv config from a job's ``source.files``."""

from __future__ import annotations

from typing import Any

from tap_csv.files import resolve_paths

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.job_config import Job


def plan_csv_source(job: Job) -> dict[str, Any]:
    """Files (each checked to match at least one file), schema and key of the asset's object."""
    source = job.source
    files = source.get("files") or []
    problems: list[Problem] = []
    if not files:
        problems.append(Problem(job.file, "source.files", "is required for the csv connector"))
    defaults = {k: source[k] for k in ("delimiter", "encoding", "header") if k in source}
    planned = []
    for index, entry in enumerate(files):
        entry = {**defaults, "object": job.asset.object, **entry}
        if entry["object"] != job.asset.object:
            problems.append(
                Problem(
                    job.file,
                    f"source.files[{index}].object",
                    f"is not the asset's object {job.asset.object!r}",
                )
            )
        if not resolve_paths(entry["path"], str(job.home.root)):
            problems.append(
                Problem(job.file, f"source.files[{index}].path", f"no file matches {entry['path']!r}")
            )
        planned.append(entry)
    if problems:
        raise ConfigError(problems)
    return {
        "files": planned,
        "schemas": {job.asset.object: job.asset.json_schema()},
        "key_properties": {job.asset.object: list(job.asset.primary_key)},
        "base_dir": str(job.home.root),
        # Values that do not parse reach the target, which dead-letters the record with the reason.
        "on_invalid_value": "pass",
    }
