"""Fast path under a kill: the pipe (target-iceberg, then tap-postgres) SIGKILLed right after the
target committed its first batch; the rerun from the last emitted STATE reads from the bookmark on,
and every id is in the table exactly once."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from target_iceberg.catalog import open_catalog

from tests.helpers.databases import TAPS, TARGET, batch_config, pg_schema, pipe, write_json

pytestmark = pytest.mark.integration

ROWS = 30_000
CATALOG = {
    "streams": [
        {
            "tap_stream_id": "orders",
            "stream": "orders",
            "key_properties": ["id"],
            "replication_key": "updated_at",
            "replication_method": "INCREMENTAL",
            "schema": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "amount": {"type": ["number", "null"], "multipleOf": 0.01, "maximum": 1e10},
                    "updated_at": {"type": "string", "format": "date-time"},
                },
            },
            "metadata": [
                {
                    "breadcrumb": [],
                    "metadata": {
                        "selected": True,
                        "replication-method": "INCREMENTAL",
                        "replication-key": "updated_at",
                        "table-key-properties": ["id"],
                    },
                }
            ],
        }
    ]
}


def test_kill_on_fast_path_then_rerun_repeats_nothing(pg_service, tmp_path: Path) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(
            f'CREATE TABLE "{schema}".orders AS SELECT g AS id, (g % 1000) / 100.0 AS amount, '
            f"timestamptz '2024-01-01' + g * interval '1 second' AS updated_at "
            f"FROM generate_series(1, {ROWS}) g"
        )
        tap_config = {
            "host": pg_service.host,
            "port": pg_service.port,
            "user": pg_service.user,
            "database": pg_service.db,
            "tables": {"orders": f"{schema}.orders"},
            "batch_config": {**batch_config(tmp_path), "batch_size": 3000},
        }
        target_config = {
            "warehouse_dir": str(tmp_path / "warehouse"),
            "namespace": "kill",
            "batch_size_rows": 3000,
        }
        tap = subprocess.Popen(
            [
                *TAPS["postgres"],
                "--config",
                str(write_json(tmp_path / "tap.json", tap_config)),
                "--catalog",
                str(write_json(tmp_path / "catalog.json", CATALOG)),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        target = subprocess.Popen(
            [*TARGET, "--config", str(write_json(tmp_path / "target.json", target_config))],
            stdin=tap.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
        )
        assert tap.stdout is not None and target.stdout is not None
        tap.stdout.close()
        first = target.stdout.readline()  # the first STATE: its rows are committed
        target.send_signal(signal.SIGKILL)
        tap.send_signal(signal.SIGKILL)
        target.communicate(timeout=120)
        tap.wait(timeout=30)
        states = [json.loads(first)]
        bookmark = states[-1]["bookmarks"]["orders"]["replication_key_value"]
        assert bookmark < "2024-01-01T08:20:00"  # stopped well before the last row (id 30000)

        tap_code, target_code, _, log = pipe(
            "postgres", tap_config, CATALOG, target_config, tmp_path, states[-1]
        )
    assert (tap_code, target_code) == (0, 0), log[-3000:]
    reread = sum(int(n) for n in re.findall(r'"rows": (\d+)', log))
    assert reread < ROWS
    ids = (
        open_catalog({"warehouse_dir": str(tmp_path / "warehouse")})
        .load_table("kill.orders")
        .scan(selected_fields=("id",))
        .to_arrow()
        .column("id")
        .to_pylist()
    )
    assert len(ids) == ROWS and set(ids) == set(range(1, ROWS + 1))


def test_full_table_streams_land_every_row_on_both_paths(pg_service, tmp_path: Path) -> None:
    """A full-table stream's state never changes: a STATE still follows every batch and the last
    row (singer-sdk drops repeated states; the target commits only what a STATE covers)."""
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(
            f'CREATE TABLE "{schema}".orders AS SELECT g AS id, g / 100.0 AS amount, '
            f"timestamptz '2024-01-01' AS updated_at FROM generate_series(1, 12000) g"
        )
        stream = {**CATALOG["streams"][0], "metadata": [{"breadcrumb": [], "metadata": {"selected": True}}]}
        del stream["replication_key"], stream["replication_method"]
        catalog = {"streams": [stream]}
        base = {
            "host": pg_service.host,
            "port": pg_service.port,
            "user": pg_service.user,
            "database": pg_service.db,
            "tables": {"orders": f"{schema}.orders"},
        }

        def load(path: str) -> int:
            config = (
                {**base, "batch_config": {**batch_config(tmp_path), "batch_size": 4000}}
                if path == "b"
                else base
            )
            target = {"warehouse_dir": str(tmp_path / f"wh-{path}"), "namespace": path}
            tap_code, target_code, _, log = pipe("postgres", config, catalog, target, tmp_path)
            assert (tap_code, target_code) == (0, 0), log[-3000:]
            table = open_catalog({"warehouse_dir": str(tmp_path / f"wh-{path}")}).load_table(f"{path}.orders")
            return len(table.scan(selected_fields=("id",)).to_arrow())

        with ThreadPoolExecutor(2) as pool:
            assert list(pool.map(load, ("r", "b"))) == [12_000, 12_000]
