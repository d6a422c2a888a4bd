"""Object keys: data files from a documented template, manifests in commit order.

A data file's key is ``<prefix>/<tenant>/<stream>/`` followed by ``key_template`` (default
``ingest_date={ingest_date}/{run_id}-{n}.{ext}``). Every data file of a stream is below its
stream root, so files no manifest names (a killed run's) can be found there. A manifest's key is
``<stream root>/_manifests/<commit time>-<run id>-<commit>.json``; names sort in commit order.
"""

from __future__ import annotations

import datetime as dt
import re
import string
import uuid

from dativo_singer.errors import FatalError

DEFAULT_KEY_TEMPLATE = "ingest_date={ingest_date}/{run_id}-{n}.{ext}"
MANIFESTS = "_manifests"
TEMPLATE_FIELDS = ("ingest_date", "year", "month", "day", "hour", "run_id", "n", "ext", "stream", "tenant")
_STAMP = "%Y%m%dT%H%M%S%fZ"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]")


def stream_segment(stream: str) -> str:
    """A stream name as one key segment: characters other than letters, digits and ``_ . = -``
    (``/``, ``\\``, ``%``, spaces, controls) become ``_`` and leading dots too, so that no
    stream name (``../other-tenant``, ``/abs``, ``a%2Fb``, ``x/_manifests``) leaves its stream root."""
    safe = _UNSAFE.sub("_", stream)
    stripped = safe.lstrip(".")
    return "_" * (len(safe) - len(stripped)) + stripped or "_"


def check_key_path(setting: str, value: str) -> str:
    """``prefix`` and ``tenant``: relative ``/``-separated segments; ``..``, ``.``, ``\\`` and
    ``%`` (an encoded separator) refused with one line, so keys stay below the bucket's prefix."""
    parts = value.strip("/").split("/") if value.strip("/") else []
    if "\\" in value or "%" in value or any(p in ("", ".", "..") for p in parts):
        raise FatalError(
            f"setting '{setting}': {value!r} is not allowed: '/'-separated names without '..', "
            "'.', empty segments, '\\' or '%'"
        )
    return "/".join(parts)


def check_key_template(template: str) -> None:
    """Unknown fields, a template without ``{run_id}`` and ``{n}`` (keys would collide) or one
    that writes among the manifests are refused."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise FatalError(f"setting 'key_template': {exc}") from None
    unknown = sorted(set(names) - set(TEMPLATE_FIELDS))
    if unknown:
        raise FatalError(
            f"setting 'key_template': unknown field(s) {', '.join(unknown)} "
            f"(known: {', '.join(TEMPLATE_FIELDS)})"
        )
    if "run_id" not in names or "n" not in names:
        raise FatalError(
            "setting 'key_template' must hold {run_id} and {n}, so that no two files share a key"
        )
    if template.strip("/").startswith(MANIFESTS) or template.startswith("/") or ".." in template.split("/"):
        raise FatalError(f"setting 'key_template': {template!r} must be a relative path outside {MANIFESTS}/")


def new_run_id(now: dt.datetime | None = None) -> str:
    """``<UTC time>-<8 hex>``: sorts by start time, unique across hosts."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


def data_key(
    root: str, template: str, *, stream: str, tenant: str, run_id: str, n: int, ext: str, now: dt.datetime
) -> str:
    """The key of a run's ``n``-th data file."""
    relative = template.format(
        ingest_date=now.strftime("%Y-%m-%d"),
        year=now.strftime("%Y"),
        month=now.strftime("%m"),
        day=now.strftime("%d"),
        hour=now.strftime("%H"),
        run_id=run_id,
        n=f"{n:05d}",
        ext=ext,
        stream=stream,
        tenant=tenant,
    )
    return f"{root}/{relative.strip('/')}" if root else relative.strip("/")


def manifest_name(stamp: dt.datetime, run_id: str, commit: int) -> str:
    """``<commit time>-<run id>-<commit>.json``."""
    return f"{stamp.strftime(_STAMP)}-{run_id}-{commit:05d}.json"


def manifest_time(name: str) -> dt.datetime | None:
    """The commit time a manifest's name starts with (None for a name not made here)."""
    try:
        return dt.datetime.strptime(name.split("-", 1)[0], _STAMP).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def next_commit_time(previous: str | None) -> dt.datetime:
    """Now, or just after the newest manifest's time when a clock is behind it, so that a new
    manifest always sorts last."""
    now = dt.datetime.now(dt.timezone.utc)
    last = manifest_time(previous.rsplit("/", 1)[-1]) if previous else None
    if last is not None and now <= last:
        return last + dt.timedelta(microseconds=1)
    return now
