"""A path partition of a file source: its glob replaces the paths of ``source.files``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dativo_runner.errors import JobConfigError, Problem

if TYPE_CHECKING:
    from dativo_runner.job_config import Job


def sliced_files(job: Job, files: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """The ``source.files`` entries with the field naming each in errors; for a path partition,
    one entry: the first entry's options (object, delimiter, storage...) with the partition's
    glob (relative to the project home, like ``source.files``) as its path."""
    partition = job.partition
    if partition is None or partition.path is None or not files:
        return [(entry, f"source.files[{index}]") for index, entry in enumerate(files)]
    return [({**files[0], "path": partition.path}, f"partitions.static.{partition.key}")]


def check_slices(job: Job, check: Callable[[Job], list[Problem]]) -> list[Problem]:
    """``check`` of the job; of a job partitioned by path (whose runs each read one slice, never
    ``source.files`` paths themselves), ``check`` of every slice: a glob matching nothing, or
    reaching outside the home, is refused by validate."""
    try:
        found = job.partitions if job.partition is None else None
    except JobConfigError:
        found = None  # reported by the job's own partition check
    keys = (
        [k for k in found.keys if found.get(k).path is not None] if found and found.kind == "static" else []
    )
    if not keys:
        return check(job)
    problems: list[Problem] = []
    for key in keys:
        problems.extend(p for p in check(job.with_partition(key)) if p not in problems)
    return problems
