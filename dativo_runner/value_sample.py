"""Personal data by value for every tap-discovered source (`dativo discover`, `dativo generate
config`): the tap is run on its own catalog with one stream selected, its first ``SAMPLE_ROWS``
RECORD messages are read from its output and the tap is stopped; each column's sampled values go
through ``dativo_singer.pii_values.detect_pii``. One place for databases, APIs and any Singer
tap; file sources that sample their files themselves (CSV) keep their own sample.

The sampled values stay in this process's memory: only the kind of personal data a column's
values look like is kept (``DiscoveredField.pii``)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from dativo_runner.discovery import DiscoveredField, DiscoveredStream, with_notes
from dativo_runner.executables import find_executable
from dativo_runner.private_files import write_private

if TYPE_CHECKING:
    from dativo_runner.job_config import Job

SAMPLE_ROWS = 200  # per stream
SAMPLE_SECONDS = 60  # per stream, tap start included
MAX_SAMPLED_STREAMS = 10  # a whole database: name the object to check the others
_SCALAR_TYPES = ("string", "integer", "date", "timestamp")
# Config keys that would make a tap write BATCH files or apply the asset instead of sending RECORDs.
_NOT_FOR_SAMPLING = ("batch_config", "column_policies", "pii_watch", "stream_maps")


def _selected(entry: dict[str, Any]) -> dict[str, Any]:
    """The catalog entry with the stream and every field selected."""
    metadata = []
    for item in entry.get("metadata") or ():
        inner = dict(item.get("metadata") or {})
        inner["selected"] = True
        metadata.append({**item, "metadata": inner})
    return {**entry, "metadata": metadata, "selected": True}


def _read_records(stdout: IO[str], stream_id: str) -> list[dict[str, Any]]:
    """Up to ``SAMPLE_ROWS`` records of the stream from the tap's output."""
    records: list[dict[str, Any]] = []
    for line in stdout:
        if '"RECORD"' not in line:
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if message.get("type") == "RECORD" and message.get("stream") == stream_id:
            records.append(message.get("record") or {})
            if len(records) >= SAMPLE_ROWS:
                break
    return records


def _kill(process: subprocess.Popen[str], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _stop(process: subprocess.Popen[str]) -> None:
    """The tap (in its own session) and anything it started, stopped."""
    if process.poll() is None:
        _kill(process, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _kill(process, signal.SIGKILL)
    process.wait()


def sample_records(job: Job, config: dict[str, Any], entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The first records of one stream: its tap run with ``config`` in a private folder,
    stopped once it sent ``SAMPLE_ROWS`` records (or ended, or ``SAMPLE_SECONDS`` passed)."""
    program = job.source_entry.executable
    folder = Path(tempfile.mkdtemp(prefix="dativo-sample-"))
    try:
        config_path = write_private(folder, "tap.json", config)
        catalog_path = write_private(folder, "catalog.json", {"streams": [_selected(entry)]})
        command = [find_executable(program) or program, "--config", str(config_path)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "LOGLEVEL": "ERROR"}
        try:
            process = subprocess.Popen(
                [*command, "--catalog", str(catalog_path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                env=env,
                start_new_session=True,
            )
        except FileNotFoundError:
            return []
        # A tap that sends nothing (a slow API, a huge sort) is stopped after SAMPLE_SECONDS.
        timer = threading.Timer(SAMPLE_SECONDS, _kill, (process, signal.SIGKILL))
        timer.start()
        try:
            assert process.stdout is not None
            return _read_records(process.stdout, str(entry.get("tap_stream_id") or entry.get("stream")))
        finally:
            timer.cancel()
            _stop(process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    return str(value)


def flag_values(stream: DiscoveredStream, records: list[dict[str, Any]]) -> DiscoveredStream:
    """The stream with each scalar field's ``pii`` kind from its sampled values (a personal
    number typed as a number becomes ``string``, as in the CSV sample)."""
    from dativo_singer.pii_values import detect_pii, pii_type

    fields: list[DiscoveredField] = []
    for found in stream.fields:
        kind = None
        if found.type in _SCALAR_TYPES and not found.pii:
            kind = detect_pii([_text(record.get(found.name)) for record in records])
        fields.append(replace(found, type=pii_type(found.type, kind), pii=kind) if kind else found)
    return replace(stream, fields=tuple(fields))


def with_value_pii(job: Job, streams: list[DiscoveredStream]) -> list[DiscoveredStream]:
    """The streams with the columns whose sampled values look personal flagged (see module)."""
    sampled = [s for s in streams if s.entry is not None and s.sampled_rows is None]
    if not sampled:
        return streams
    config = {k: v for k, v in job.source_plugin.discovery_config(job).items() if k not in _NOT_FOR_SAMPLING}
    done: dict[str, DiscoveredStream] = {}
    for stream in sampled[:MAX_SAMPLED_STREAMS]:
        assert stream.entry is not None
        records = sample_records(job, config, stream.entry)
        done[stream.stream] = with_notes(
            flag_values(stream, records), f"values of {len(records)} rows checked for personal data"
        )
    skipped = f"values not checked for personal data: name the object (over {MAX_SAMPLED_STREAMS} streams)"
    return [done.get(s.stream) or (with_notes(s, skipped) if s in sampled else s) for s in streams]
