"""Read back what a target wrote from singer-sdk's standard target test files and compare values
with the records sent (after the target's documented type mapping)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
from target_iceberg.catalog import open_catalog
from target_iceberg.naming import table_name_for
from target_iceberg.tables import load_table_or_none

from dativo_singer.arrow_types import NESTED_TEXT, arrow_type, json_text_kind
from tests.helpers.singer import TARGET

# singer-sdk's files whose every record is valid (the others test rejections).
READ_BACK_FILES = [
    "array_data",
    "camelcase",
    "camelcase_complex_schema",
    "duplicate_records",
    "encoded_string_data",
    "multiple_state_messages",
    "no_primary_keys",
    "optional_attributes",
    "pk_updates",
    "record_missing_fields",
    "schema_updates",
    "special_chars_in_attributes",
    "user_location_data",
]

# On every catalog x store combination (the embedded catalog reads all of READ_BACK_FILES back):
# nested arrays, unicode, a key updated in place and a schema evolving mid-stream.
READ_BACK_MATRIX_FILES = ["array_data", "encoded_string_data", "pk_updates", "schema_updates"]


def singer_file(name: str) -> Path:
    """A singer-sdk standard target test file."""
    return Path(str(resources.files("singer_sdk.testing") / "target_test_streams" / f"{name}.singer"))


def _sent(
    path: Path, *, after_last_state: bool = True
) -> dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Per stream: every property any SCHEMA declared, and the records in order that the target
    commits: all of them at a clean end of input (the default), or only those a STATE covers
    when ``after_last_state`` is False (``commit_records_after_last_state: false``); of records
    repeating a stream's key properties within the run, the later one (docs/ICEBERG_TARGET.md)."""
    streams: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    keys: dict[str, list[str]] = {}
    covered: dict[str, int] = {}
    saw_state = False
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        message = json.loads(line)
        if message["type"] == "SCHEMA":
            props, _ = streams.setdefault(message["stream"], ({}, []))
            props.update(message["schema"].get("properties") or {})
            keys[message["stream"]] = list(message.get("key_properties") or [])
        elif message["type"] == "RECORD":
            streams[message["stream"]][1].append(message["record"])
        elif message["type"] == "STATE":
            saw_state = True
            covered = {stream: len(rows) for stream, (_, rows) in streams.items()}
    if saw_state and not after_last_state:
        for stream, (_, rows) in streams.items():
            del rows[covered.get(stream, 0) :]
    for stream, (_, rows) in streams.items():
        if keys.get(stream):
            last = {tuple(str(r.get(k)) for k in keys[stream]): r for r in rows}
            rows[:] = list(last.values())
    return streams


def _timestamp(value: Any) -> str:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return (
        (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc))
        .astimezone(dt.timezone.utc)
        .isoformat()
    )


def _normal(value: Any, prop: dict[str, Any], stored: bool = False) -> Any:
    """One value, sent or stored, in a form both sides share."""
    if value is None:
        return None
    arrow = arrow_type(prop)
    if pa.types.is_timestamp(arrow):
        return _timestamp(value)
    if pa.types.is_date(arrow):
        return str(value)[:10]
    if pa.types.is_floating(arrow) or pa.types.is_decimal(arrow) or isinstance(value, Decimal):
        return float(value)
    kind = json_text_kind(prop, arrow)
    # A stored JSON-text cell is JSON; a sent string is JSON text only in an object/array column.
    if kind is not None and isinstance(value, str) and (stored or kind == NESTED_TEXT):
        return json.loads(value)
    return value


def assert_tables_hold_what_was_sent(config: dict[str, Any], name: str, tmp: Path) -> None:
    """Pipe the file into target-iceberg and compare every table, row for row (append mode)."""
    path = singer_file(name)
    config_path = tmp / "read-back.json"
    config_path.write_text(json.dumps(config))
    with path.open("rb") as stdin:
        result = subprocess.run(
            [*TARGET, "--config", str(config_path)],
            stdin=stdin,
            capture_output=True,
            timeout=300,
            check=False,
        )
    after = config.get("commit_records_after_last_state", True) is not False
    sent = _sent(path, after_last_state=after)
    # Commit-at-STATE-only mode fails (exit 2) when records came after the last STATE.
    left = sum(len(r) for _, r in _sent(path).values()) - sum(len(r) for _, r in sent.values())
    assert result.returncode == (2 if left else 0), result.stderr.decode()[-3000:]
    catalog = open_catalog(config)
    for stream, (props, records) in sent.items():
        table = load_table_or_none(catalog, f"{config['namespace']}.{table_name_for(stream, config)}")
        if not records:
            assert table is None, f"{stream}: a table without rows"  # tables come with rows only
            continue
        assert table is not None, stream
        stored = table.scan().to_arrow().to_pylist()
        columns = table.schema().column_names
        assert set(columns) == {p for p in props if not p.startswith("_sdc_")}, stream
        got = sorted(
            json.dumps({c: _normal(r[c], props[c], stored=True) for c in columns}, sort_keys=True)
            for r in stored
        )
        want = sorted(
            json.dumps({c: _normal(r.get(c), props[c]) for c in columns}, sort_keys=True) for r in records
        )
        assert got == want, f"{name}/{stream}"
