"""A job's ``partitions``: named slices (a path glob or a ``where`` condition each) or time
windows (a day or a month of a date column), each run alone with its own bookmark.

``job_partitions`` reads the job mapping (after ``${VAR}`` interpolation); ``PartitionSet.get``
gives one slice by key. Keys: static slices by name, days as ``2024-01-01``, months as ``2024-01``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from dativo_runner.errors import JobConfigError, Problem

KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")  # the whole key (fullmatch)
#: Keys shown in an error naming the valid ones; a longer list is shortened around its ends.
_SHOWN_KEYS = 12


@dataclass(frozen=True)
class Partition:
    """One slice of a partitioned job: a path glob, a ``where`` condition or a time window."""

    key: str
    path: str | None = None
    where: str | None = None
    start: str | None = None  # ISO dates, ``end`` exclusive (time windows)
    end: str | None = None
    column: str | None = None  # the time window's column


@dataclass(frozen=True)
class PartitionSet:
    """The partitions a job declares, in order."""

    kind: Literal["static", "day", "month"]
    keys: tuple[str, ...]
    column: str | None
    start: str | None
    end: str | None
    slices: Mapping[str, Mapping[str, str]] | None = None  # static: key -> {path|where: value}
    file: str = "job"  # the job file, as errors name it

    def get(self, key: str) -> Partition:
        """The partition ``key``; an unknown key is a JobConfigError naming the valid keys."""
        if key not in self.keys:
            raise JobConfigError([Problem(self.file, "partitions", unknown_key_message(key, self.keys))])
        if self.kind == "static":
            spec = (self.slices or {})[key]
            return Partition(key, path=spec.get("path"), where=spec.get("where"))
        start = _parse_key(key, self.kind)
        end = _next(start, self.kind)
        return Partition(key, start=start.isoformat(), end=end.isoformat(), column=self.column)

    def __iter__(self) -> Any:
        return (self.get(key) for key in self.keys)


def unknown_key_message(key: str, keys: tuple[str, ...]) -> str:
    """``unknown partition 'x'; valid keys: eu, us``."""
    return f"unknown partition {key!r}; valid keys: {keys_text(keys)}"


def keys_text(keys: tuple[str, ...]) -> str:
    """``eu, us``; a long list shown by its ends (``2024-01-01, ... (360 more) ..., 2024-12-31``)."""
    shown = list(keys)
    if len(shown) > _SHOWN_KEYS:
        shown = [*shown[:3], f"... ({len(keys) - 6} more) ...", *shown[-3:]]
    return ", ".join(shown)


def job_partitions(job: Mapping[str, Any], *, file: str = "job") -> PartitionSet | None:
    """The job's partitions (None when it declares none); a malformed block is a JobConfigError
    naming ``file`` and the field."""
    block = job.get("partitions")
    if block is None:
        return None
    if (
        not isinstance(block, Mapping)
        or len(block) != 1
        or next(iter(block)) not in ("static", "time_window")
    ):
        raise _error(file, "partitions", "give exactly one of static or time_window")
    if "static" in block:
        return _static(block["static"], file)
    return _time_window(block["time_window"], file)


def _static(block: Any, file: str) -> PartitionSet:
    if not isinstance(block, Mapping) or not block:
        raise _error(file, "partitions.static", "name at least one partition")
    slices: dict[str, dict[str, str]] = {}
    for key, spec in block.items():
        where = f"partitions.static.{key}"
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            raise _error(file, where, "a key is letters, digits, '-' and '_', at most 63")
        given = {k: v for k, v in (spec or {}).items()} if isinstance(spec, Mapping) else {}
        if len(given) != 1 or next(iter(given)) not in ("path", "where"):
            raise _error(file, where, "give exactly one of path or where")
        name, value = next(iter(given.items()))
        if not isinstance(value, str) or not value.strip():
            raise _error(file, f"{where}.{name}", "must be a non-empty string")
        slices[key] = {name: value}
    return PartitionSet("static", tuple(slices), None, None, None, slices, file)


def _time_window(block: Any, file: str) -> PartitionSet:
    if not isinstance(block, Mapping):
        raise _error(file, "partitions.time_window", "must be a mapping of column, unit, start, end")
    column, unit = block.get("column"), block.get("unit")
    if not isinstance(column, str) or not column:
        raise _error(file, "partitions.time_window.column", "is required")
    if unit not in ("day", "month"):
        raise _error(file, "partitions.time_window.unit", f"{unit!r}: must be day or month")
    start = _parse_date(block.get("start"), file, "start")
    end = (
        _parse_date(block.get("end"), file, "end")
        if block.get("end") is not None
        else dt.datetime.now(dt.timezone.utc).date()
    )
    if end <= start:
        raise _error(file, "partitions.time_window.end", f"{end} is not after start {start}")
    keys = []
    current = start if unit == "day" else start.replace(day=1)
    while current < end:
        keys.append(current.isoformat() if unit == "day" else current.isoformat()[:7])
        current = _next(current, unit)
    return PartitionSet(unit, tuple(keys), column, start.isoformat(), end.isoformat(), None, file)


def _parse_date(value: Any, file: str, name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise _error(
            file, f"partitions.time_window.{name}", f"{value!r} is not a date (YYYY-MM-DD)"
        ) from None


def _parse_key(key: str, unit: str) -> dt.date:
    return dt.date.fromisoformat(key if unit == "day" else f"{key}-01")


def _next(day: dt.date, unit: str) -> dt.date:
    if unit == "day":
        return day + dt.timedelta(days=1)
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _error(file: str, field: str, message: str) -> JobConfigError:
    return JobConfigError([Problem(file, field, message)])
