"""Database taps in tests: throwaway schemas (PostgreSQL) and databases (MariaDB), discovery, and
`tap | target-iceberg` pipes."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TAPS = {
    "postgres": [sys.executable, "-c", "from tap_postgres.tap import main; main()"],
    "mysql": [sys.executable, "-c", "from tap_mysql.tap import main; main()"],
}
TARGET = [sys.executable, "-c", "from target_iceberg.target import main; main()"]


# The README's orders table (scripts/demo_db.py; assets/postgres/v1.0/db_orders.yaml).
ORDERS_COLUMNS = (
    "order_id bigint PRIMARY KEY, customer_id bigint NOT NULL, status text, amount numeric(12,2), "
    "currency char(3), customer_email text, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL"
)


def create_orders(cursor: Any, table: str) -> None:
    """The README's orders table, as ``table`` (quoted as SQL wants it)."""
    cursor.execute(f"CREATE TABLE {table} ({ORDERS_COLUMNS})")


def unique_name(prefix: str) -> str:
    """A lowercase identifier unique to this call."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@contextmanager
def pg_schema(dsn: str) -> Iterator[tuple[str, Any]]:
    """A fresh PostgreSQL schema and an autocommit psycopg2 cursor; dropped afterwards."""
    import psycopg2

    name = unique_name("t")
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    cursor = connection.cursor()
    cursor.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name, cursor
    finally:
        cursor.execute(f'DROP SCHEMA "{name}" CASCADE')
        connection.close()


@contextmanager
def mariadb_database(service: Any) -> Iterator[tuple[str, Any]]:
    """A fresh MariaDB database and an autocommit PyMySQL cursor; dropped afterwards."""
    name = unique_name("t")
    connection = service.connect()
    cursor = connection.cursor()
    cursor.execute(f"CREATE DATABASE `{name}`")
    cursor.execute(f"USE `{name}`")
    try:
        yield name, cursor
    finally:
        cursor.execute(f"DROP DATABASE `{name}`")
        connection.close()


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def discover(tap: str, config: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """The tap's `--discover` catalog."""
    config_path = write_json(tmp / f"{tap}-discover.json", config)
    result = subprocess.run(
        [*TAPS[tap], "--config", str(config_path), "--discover"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def select(catalog: dict[str, Any], stream_id: str, replication_key: str | None = None) -> dict[str, Any]:
    """The catalog with only ``stream_id`` selected (all its columns), incremental on the key."""
    streams = []
    for stream in catalog["streams"]:
        if stream["tap_stream_id"] != stream_id:
            continue
        for entry in stream["metadata"]:
            entry["metadata"]["selected"] = True
            if entry["breadcrumb"] == [] and replication_key:
                entry["metadata"]["replication-method"] = "INCREMENTAL"
                entry["metadata"]["replication-key"] = replication_key
        if replication_key:
            stream["replication_key"] = replication_key
            stream["replication_method"] = "INCREMENTAL"
        streams.append(stream)
    assert streams, f"{stream_id} not discovered"
    return {"streams": streams}


def pipe(
    tap: str,
    tap_config: dict[str, Any],
    catalog: dict[str, Any],
    target_config: dict[str, Any],
    tmp: Path,
    state: dict[str, Any] | None = None,
) -> tuple[int, int, list[dict[str, Any]], str]:
    """`tap | target-iceberg`: both exit codes, the STATEs the target emitted, both stderrs."""
    tag = uuid.uuid4().hex[:6]
    args = [
        *TAPS[tap],
        "--config",
        str(write_json(tmp / f"tap-{tag}.json", tap_config)),
        "--catalog",
        str(write_json(tmp / f"catalog-{tag}.json", catalog)),
    ]
    if state is not None:
        args += ["--state", str(write_json(tmp / f"state-{tag}.json", state))]
    target_args = [*TARGET, "--config", str(write_json(tmp / f"target-{tag}.json", target_config))]
    tap_err, target_err = tmp / f"tap-{tag}.err", tmp / f"target-{tag}.err"
    with tap_err.open("w") as tap_log, target_err.open("w") as target_log:
        tap_proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=tap_log, cwd=tmp)
        target_proc = subprocess.Popen(
            target_args, stdin=tap_proc.stdout, stdout=subprocess.PIPE, stderr=target_log, cwd=tmp
        )
        assert tap_proc.stdout is not None
        tap_proc.stdout.close()
        out, _ = target_proc.communicate(timeout=300)
        tap_code = tap_proc.wait(timeout=60)
    states = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    stderr = tap_err.read_text() + target_err.read_text()
    return tap_code, target_proc.returncode, states, stderr


def batch_config(tmp: Path) -> dict[str, Any]:
    """A Parquet batch_config writing under ``tmp``."""
    folder = tmp / f"batches-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    return {"encoding": {"format": "parquet"}, "storage": {"root": folder.as_uri()}, "batch_size": 1000}
