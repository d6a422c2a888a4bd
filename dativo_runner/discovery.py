"""Discovery: a source's tap run with ``--discover`` and its Singer catalog made readable.

Every stream becomes a :class:`DiscoveredStream`: its fields with asset type names (the names an
asset spec uses: ``integer``, ``timestamp``, ``decimal(12,2)``...), its key properties and the
fields that can serve as an incremental cursor.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.executables import find_executable
from dativo_runner.private_files import write_private

if TYPE_CHECKING:
    from dativo_runner.job_config import Job

DISCOVER_TIMEOUT_SECONDS = 300
_FORMATS = {"date-time": "timestamp", "date": "date", "time": "time"}
_CURSOR_FORMATS = ("date-time", "date")


@dataclass(frozen=True)
class DiscoveredField:
    """One field of a stream: its asset type and whether it may be null."""

    name: str
    type: str
    nullable: bool = True
    items: str | None = None  # element type of an ``array`` field
    pii: str | None = None  # the kind of personal data its sampled values look like


@dataclass(frozen=True)
class DiscoveredStream:
    """A stream a source offers, as a job names it (``schema.table`` for database tables)."""

    stream: str
    fields: tuple[DiscoveredField, ...]
    key_properties: tuple[str, ...] = ()
    replication_key: str | None = None  # the tap's own cursor (Stripe: created)
    replication_key_candidates: tuple[str, ...] = ()
    sampled_rows: int | None = None  # rows read to guess types (file sources)
    notes: tuple[str, ...] = field(default=())
    # The tap's own catalog entry (what a sample run of the stream selects); not shown.
    entry: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``--json``)."""
        data = asdict(self)
        data.pop("entry", None)
        data["fields"] = [
            {k: v for k, v in asdict(f).items() if v is not None or k not in ("items", "pii")}
            for f in self.fields
        ]
        return data


def _types(prop: dict[str, Any]) -> list[str]:
    declared = prop.get("type")
    if declared is None:
        for option in prop.get("anyOf") or prop.get("oneOf") or ():
            if isinstance(option, dict) and option.get("type") not in (None, "null"):
                return [*_types(option), "null"]
        return []
    return [declared] if isinstance(declared, str) else list(declared)


def _decimal(prop: dict[str, Any]) -> str | None:
    """``decimal(p,s)`` for a number bounded the way asset decimals are written."""
    step, maximum = prop.get("multipleOf"), prop.get("maximum")
    if not step or not maximum or step <= 0 or step > 1:
        return None
    scale = round(-math.log10(step))
    precision = round(math.log10(maximum + step)) + scale
    if 1 <= precision <= 38 and 0 <= scale <= precision:
        return f"decimal({precision},{scale})"
    return None


def readable_type(prop: dict[str, Any]) -> str:
    """The asset type name of a JSON Schema property (``json`` when it has no single type)."""
    types = [t for t in _types(prop) if t != "null"]
    if len(types) != 1:
        return "json"
    kind = types[0]
    if kind == "string":
        return _FORMATS.get(str(prop.get("format") or ""), "string")
    if kind == "number":
        return _decimal(prop) or "double"
    if kind in ("integer", "boolean"):
        return kind
    if kind == "array":
        return "array"
    return "json"  # objects: kept whole


def _field(name: str, prop: dict[str, Any]) -> DiscoveredField:
    kind = readable_type(prop)
    items = None
    if kind == "array":
        items_prop = prop.get("items")
        items = readable_type(items_prop) if isinstance(items_prop, dict) else None
        if items in (None, "json", "array"):
            kind, items = "json", None  # nested arrays are kept whole
    return DiscoveredField(name, kind, "null" in _types(prop) or not _types(prop), items)


def _root_metadata(entry: dict[str, Any]) -> dict[str, Any]:
    for item in entry.get("metadata") or ():
        if not item.get("breadcrumb"):
            return dict(item.get("metadata") or {})
    return {}


def normalize_stream(entry: dict[str, Any]) -> DiscoveredStream:
    """One Singer catalog entry as a :class:`DiscoveredStream`."""
    meta = _root_metadata(entry)
    properties: dict[str, Any] = (entry.get("schema") or {}).get("properties") or {}
    fields = tuple(_field(name, prop if isinstance(prop, dict) else {}) for name, prop in properties.items())
    keys = tuple(entry.get("key_properties") or meta.get("table-key-properties") or ())
    table = str(
        meta.get("table-name") or entry.get("table_name") or entry.get("stream") or entry["tap_stream_id"]
    )
    schema_name = meta.get("schema-name")
    name = f"{schema_name}.{table}" if schema_name else table
    declared = meta.get("valid-replication-keys")
    if declared:
        candidates = tuple(str(c) for c in declared)
    else:
        candidates = tuple(
            n
            for n, prop in properties.items()
            if isinstance(prop, dict)
            and (prop.get("format") in _CURSOR_FORMATS or ("integer" in _types(prop) and n not in keys))
            and not n.startswith("_sdc_")
        )
    replication_key = entry.get("replication_key") or meta.get("replication-key")
    return DiscoveredStream(
        stream=name,
        fields=tuple(f for f in fields if not f.name.startswith("_sdc_")),
        key_properties=keys,
        replication_key=str(replication_key) if replication_key else None,
        replication_key_candidates=candidates,
        entry=entry,
    )


def normalize_catalog(catalog: dict[str, Any]) -> list[DiscoveredStream]:
    """Every stream of a Singer catalog, sorted by name."""
    return sorted((normalize_stream(e) for e in catalog.get("streams") or ()), key=lambda s: s.stream)


def _last_error_line(stderr: str, program: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if ": error: " in line:
            return line.split(": error: ", 1)[1]
    return lines[-1] if lines else "no message"


def run_tap_discover(job: Job, config: dict[str, Any]) -> dict[str, Any]:
    """The Singer catalog of the job's tap run with ``config`` and ``--discover``.

    The config lives in a private (0700) temp folder only while the tap runs; a failing tap is
    one redacted problem naming the program."""
    program = job.source_entry.executable
    folder = Path(tempfile.mkdtemp(prefix="dativo-discover-"))
    try:
        path = write_private(folder, "tap.json", config)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "LOGLEVEL": "WARNING"}
        try:
            done = subprocess.run(
                [find_executable(program) or program, "--config", str(path), "--discover"],
                capture_output=True,
                text=True,
                env=env,
                timeout=DISCOVER_TIMEOUT_SECONDS,
                check=False,
            )
        except FileNotFoundError:
            raise ConfigError(
                [Problem(job.file, "source_connector", f"{program} is not installed")]
            ) from None
        except subprocess.TimeoutExpired:
            raise ConfigError(
                [
                    Problem(
                        job.file,
                        "source",
                        f"{program} --discover gave no catalog in {DISCOVER_TIMEOUT_SECONDS} s",
                    )
                ]
            ) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if done.returncode != 0:
        message = job.redactor.redact(_last_error_line(done.stderr, program))
        raise ConfigError([Problem(job.file, "source", f"{program} --discover failed: {message}")])
    try:
        catalog = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise ConfigError(
            [Problem(job.file, "source", f"{program} --discover printed no JSON catalog")]
        ) from None
    return catalog if isinstance(catalog, dict) else {}


UNTYPED_NOTE = "every column is text in the tap's catalog: review the types of a generated asset"


def discover_with_tap(job: Job, config: dict[str, Any]) -> list[DiscoveredStream]:
    """The streams of the tap's catalog for ``config`` (noted when every column is text, as
    file sources whose tap reads only a header report them)."""
    streams = normalize_catalog(run_tap_discover(job, config))
    return [
        with_notes(s, UNTYPED_NOTE) if s.fields and all(f.type == "string" for f in s.fields) else s
        for s in streams
    ]


def with_notes(stream: DiscoveredStream, *notes: str) -> DiscoveredStream:
    """The stream with notes added (shown under it)."""
    return replace(stream, notes=stream.notes + notes)


def streams_named(job: Job, streams: list[DiscoveredStream]) -> list[DiscoveredStream]:
    """The streams ``source.objects`` names (``schema.table`` matches on the table; ``*`` names
    every stream); one problem listing what the source offers when none matches."""
    wanted = {str(o).rpartition(".")[2] for o in job.source_settings.objects} - {"*"}
    if not wanted:
        return streams
    kept = [s for s in streams if s.stream.rpartition(".")[2] in wanted]
    if not kept:
        offered = ", ".join(s.stream for s in streams[:12]) + (", ..." if len(streams) > 12 else "")
        raise ConfigError(
            [
                Problem(
                    job.file,
                    "source.objects",
                    f"{sorted(wanted)} not offered by the source (it offers: {offered or 'nothing'})",
                )
            ]
        )
    return kept
