"""A clean end of input commits everything received (Singer's convention), standalone.

Taps may send their last STATE long before their last record: MeltanoLabs tap-postgres sends one
after its first 10,000 records of a full-table stream and none after. target-iceberg, piped to
such a tap through an OS pipe, must land every row and exit 0."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from tests.interop.conftest import clean_env, iceberg_rows, iceberg_table, peer_executable, run, write_json

pytestmark = pytest.mark.integration

# A tap that writes SCHEMA, 1,000 records, one STATE, then 40,000 records and no STATE.
_TAP = """
import sys
w = sys.stdout.write
w('{"type":"SCHEMA","stream":"items","schema":{"type":"object","properties":'
  '{"id":{"type":"integer"},"name":{"type":["string","null"]}}},"key_properties":["id"]}\\n')
for i in range(1, 41001):
    w('{"type":"RECORD","stream":"items","record":{"id":%d,"name":"n%d"}}\\n' % (i, i))
    if i == 1000:
        w('{"type":"STATE","value":{"bookmarks":{"items":{"early":true}}}}\\n')
"""


def _bookmark(warehouse: Path, identifier: str) -> dict[str, Any] | None:
    from target_iceberg.bookmark import latest_bookmark

    found = latest_bookmark(iceberg_table(warehouse, identifier))
    return json.loads(found[0]) if found else None


def test_records_after_an_early_last_state_all_land(tmp_path: Path, our_bin: Path) -> None:
    """tap | target-iceberg (a real pipe): 41,000 rows, the last STATE after row 1,000."""
    config = write_json(
        tmp_path / "target.json",
        {
            "warehouse_dir": str(tmp_path / "wh"),
            "namespace": "eoi",
            "dead_letter_dir": str(tmp_path / "dead"),
            "batch_size_rows": 500,  # the early STATE is a commit boundary too
        },
    )
    tap = subprocess.Popen([sys.executable, "-c", _TAP], stdout=subprocess.PIPE)
    target = subprocess.run(
        [our_bin / "target-iceberg", "--config", config],
        stdin=tap.stdout,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert tap.wait(timeout=60) == 0
    stderr = target.stderr.decode(errors="replace")
    assert target.returncode == 0, stderr[-3000:]
    assert "after the last STATE" not in stderr
    states = [json.loads(line) for line in target.stdout.decode().splitlines() if line.strip()]
    assert states[-1] == {"bookmarks": {"items": {"early": True}}}
    rows = iceberg_rows(tmp_path / "wh", "eoi.items", "id")
    assert [r["id"] for r in rows] == list(range(1, 41001))
    assert rows[-1]["name"] == "n41000"
    assert _bookmark(tmp_path / "wh", "eoi.items") == {"bookmarks": {"items": {"early": True}}}


@pytest.fixture
def big_table(pg_service: Any) -> Iterator[str]:
    """A schema with ``t`` of 25,000 rows (a full-table stream for tap-postgres)."""
    schema = f"eoi_{uuid.uuid4().hex[:10]}"
    conn = psycopg2.connect(
        host=pg_service.host, port=pg_service.port, user=pg_service.user, dbname=pg_service.db
    )
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE SCHEMA {schema}")
            cur.execute(f"CREATE TABLE {schema}.t (id integer PRIMARY KEY, label text)")
            cur.execute(f"INSERT INTO {schema}.t SELECT g, 'row ' || g FROM generate_series(1, 25000) g")
        yield schema
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.close()


def test_meltanolabs_tap_postgres_full_table_lands_every_row(
    pg_service: Any, big_table: str, tmp_path: Path, our_bin: Path
) -> None:
    """The issue's case, smaller: the peer's one STATE comes after 10,000 of 25,000 rows."""
    tap = peer_executable("tap-postgres")
    tap_config = write_json(
        tmp_path / "tap.json",
        {
            "host": pg_service.host,
            "port": pg_service.port,
            "user": pg_service.user,
            "password": "unused",
            "database": pg_service.db,
            "filter_schemas": [big_table],
        },
    )
    catalog = json.loads(run([tap, "--config", tap_config, "--discover"], cwd=tmp_path).stdout)
    (stream,) = catalog["streams"]
    for entry in stream["metadata"]:
        entry["metadata"]["selected"] = True
    catalog_path = write_json(tmp_path / "catalog.json", catalog)
    target_config = write_json(
        tmp_path / "target.json",
        {
            "warehouse_dir": str(tmp_path / "wh"),
            "namespace": "pg",
            "table_names": {stream["tap_stream_id"]: "t"},
            "dead_letter_dir": str(tmp_path / "dead"),
        },
    )
    command = (
        f"'{tap}' --config '{tap_config}' --catalog '{catalog_path}' | "
        f"'{our_bin / 'target-iceberg'}' --config '{target_config}'"
    )
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=tmp_path,
        env=clean_env(),  # the peer imports its own venv only; our_bin sets our PYTHONPATH
        capture_output=True,
        timeout=300,
        check=False,
    )
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 0, stderr[-3000:]
    assert "after the last STATE" not in stderr
    rows = iceberg_rows(tmp_path / "wh", "pg.t", "id")
    assert [r["id"] for r in rows] == list(range(1, 25001))
    assert rows[-1]["label"] == "row 25000"
