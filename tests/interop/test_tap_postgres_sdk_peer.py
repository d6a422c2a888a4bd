"""Our tap-postgres into a singer-sdk target (tests/interop/sdk_target.py, singer-sdk as every
singer-sdk peer runs it): numeric(38,10) keeps every digit, jsonb is typed for the peer, and a
date, time or timestamp its declared format cannot carry is never sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.databases import TAPS, TARGET, discover, pg_schema, select
from tests.interop.conftest import iceberg_rows, write_json

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SDK_TARGET = [sys.executable, "-m", "tests.interop.sdk_target"]
WIDE = [
    "1234567890123456789012345678.1234567891",  # 38 digits
    "-9999999999999999999999999999.9999999999",
    "-0.0000000001",
    "0.0000000000",
]
DOCUMENTS = [
    '{"a": 1.10, "big": 12345678901234567890123456789012345678}',
    '[1, "x", null]',
    '"5"',
    "5",
    "null",
]


def _config(pg: Any, schema: str) -> dict[str, Any]:
    return {"host": pg.host, "port": pg.port, "user": pg.user, "database": pg.db, "filter_schemas": [schema]}


def _tap(config: dict[str, Any], stream_id: str, tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    catalog = select(discover("postgres", config, tmp_path), stream_id)
    argv = [*TAPS["postgres"], "--config", str(write_json(tmp_path / "tap.json", config))]
    argv += ["--catalog", str(write_json(tmp_path / "catalog.json", catalog))]
    return subprocess.run(argv, capture_output=True, timeout=120, check=False)


def _feed(program: list[str], config: dict[str, Any], messages: bytes, tmp_path: Path) -> None:
    argv = [*program, "--config", str(write_json(tmp_path / "target.json", config))]
    # `python -m tests.interop.sdk_target` from any folder: the repo on the module path
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    loaded = subprocess.run(
        argv, input=messages, capture_output=True, cwd=tmp_path, env=env, timeout=120, check=False
    )
    assert loaded.returncode == 0, loaded.stderr.decode()[-3000:]


def test_wide_decimals_and_jsonb_keep_every_digit_in_a_singer_sdk_target(
    tmp_path: Path, pg_service: Any
) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(
            f'CREATE TABLE "{schema}".t (id int PRIMARY KEY, d numeric(38,10), small numeric(12,2), j jsonb)'
        )
        for i, doc in enumerate(DOCUMENTS, start=1):
            wide = WIDE[i - 1] if i <= len(WIDE) else None
            cursor.execute(f'INSERT INTO "{schema}".t VALUES (%s, %s, %s, %s)', (i, wide, "1.25", doc))
        tapped = _tap(_config(pg_service, schema), f"{schema}-t", tmp_path)
    assert tapped.returncode == 0, tapped.stderr.decode()[-3000:]
    (schema_line,) = [json.loads(x) for x in tapped.stdout.splitlines() if b'"type":"SCHEMA"' in x]
    props = schema_line["schema"]["properties"]
    assert props["d"]["type"] == ["string", "null"] and props["d"]["format"] == "x-singer.decimal"
    assert props["small"]["multipleOf"] == 0.01  # 12 digits: a number, as before
    assert props["j"]["type"] == ["object", "array", "string", "number", "integer", "boolean", "null"]

    out = tmp_path / "sdk"
    out.mkdir()
    _feed(SDK_TARGET, {"destination": str(out)}, tapped.stdout, tmp_path)
    lines = (out / f"{schema}-t.jsonl").read_text().splitlines()
    rows = sorted((json.loads(line, parse_float=Decimal) for line in lines), key=lambda r: r["id"])
    assert [r["d"] for r in rows] == [*WIDE, None]
    assert {r["small"] for r in rows} == {Decimal("1.25")}
    assert [r["j"] for r in rows] == [
        {"a": Decimal("1.10"), "big": 12345678901234567890123456789012345678},
        [1, "x", None],
        "5",
        5,
        None,
    ]
    types = json.loads((out / f"{schema}-t.types.json").read_text())
    assert types["d"] == "DECIMAL" and types["small"] == "DECIMAL"  # a SQL target's exact numeric

    warehouse = tmp_path / "warehouse"
    _feed(TARGET, {"warehouse_dir": str(warehouse), "namespace": "pg"}, tapped.stdout, tmp_path)
    landed = iceberg_rows(warehouse, f"pg.{schema}_t", "id")
    assert [r["d"] for r in landed] == [Decimal(w) for w in WIDE] + [None]
    assert str(landed[0]["d"]) == WIDE[0]


@pytest.mark.parametrize(
    ("column", "value", "declared"),
    [
        ("date", "infinity", "date"),
        ("date", "0044-03-15 BC", "date"),
        ("timestamptz", "-infinity", "date-time"),
        ("timestamp", "10000-01-01 00:00:00", "date-time"),
        ("time", "24:00:00", "time"),
    ],
)
def test_a_value_outside_its_format_is_never_sent(
    tmp_path: Path, pg_service: Any, column: str, value: str, declared: str
) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(f'CREATE TABLE "{schema}".t (id int PRIMARY KEY, v {column})')
        cursor.execute(f'INSERT INTO "{schema}".t VALUES (1, NULL), (2, %s)', (value,))
        tapped = _tap(_config(pg_service, schema), f"{schema}-t", tmp_path)
    assert tapped.returncode == 2
    assert b'"type":"RECORD"' not in tapped.stdout
    last = tapped.stderr.decode().strip().splitlines()[-1]
    assert last.startswith(f"tap-postgres: error: {schema}.t column v: a value outside ")
    assert f"has no JSON Schema '{declared}' form" in last


def test_a_date_the_driver_cannot_read_stops_the_row_by_row_path(tmp_path: Path, pg_service: Any) -> None:
    """The RECORD path one row at a time (here: flattening) reads through psycopg2, which cannot
    make a Python date of a BC date: one line naming the table, no RECORD."""
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(f'CREATE TABLE "{schema}".t (id int PRIMARY KEY, v date)')
        cursor.execute(f"INSERT INTO \"{schema}\".t VALUES (1, '0044-03-15 BC')")
        config = {**_config(pg_service, schema), "flattening_enabled": True, "flattening_max_depth": 1}
        tapped = _tap(config, f"{schema}-t", tmp_path)
    assert tapped.returncode == 2
    assert b'"type":"RECORD"' not in tapped.stdout
    last = tapped.stderr.decode().strip().splitlines()[-1]
    assert last.startswith(f"tap-postgres: error: {schema}.t: a value the driver cannot read")
    assert "year -44 is out of range" in last
