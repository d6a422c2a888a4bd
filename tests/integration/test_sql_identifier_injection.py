"""Hostile table and column names (quotes, backticks, semicolons, ``"; DROP TABLE x; --``)
created in PostgreSQL and MariaDB are discovered and loaded row for row, on the RECORD path
(SQLAlchemy) and on the BATCH fast path, incremental on a hostile-named key; the canary
table they name survives, so nothing was injected. The Iceberg table name is sanitized."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from target_iceberg.catalog import open_catalog

from tests.helpers.databases import batch_config, discover, mariadb_database, pg_schema, pipe, select

pytestmark = pytest.mark.integration

TABLE = "ev'il\"`; DROP TABLE canary; --"
NAME = "na\"me`'; DROP TABLE canary; --"
KEY = "upd'at\"ed`"
ROWS = [(1, "a'b\"c`d", 10), (2, "; DROP TABLE canary; --", 20)]


def _load(tap: str, config: dict[str, Any], stream_id: str, tmp: Path) -> dict[str, list[dict[str, Any]]]:
    catalog = select(discover(tap, config, tmp), stream_id, replication_key=KEY)

    def load(path: str) -> list[dict[str, Any]]:
        extra = {"batch_config": batch_config(tmp)} if path == "batch" else {}
        warehouse = tmp / f"warehouse-{path}"
        target = {"warehouse_dir": str(warehouse), "namespace": path}
        # A bookmark below every row: the WHERE clause on the hostile key is exercised too.
        state = {"bookmarks": {stream_id: {"replication_key": KEY, "replication_key_value": 0}}}
        tap_code, target_code, _, stderr = pipe(tap, {**config, **extra}, catalog, target, tmp, state=state)
        assert (tap_code, target_code) == (0, 0), stderr[-3000:]
        tables = open_catalog({"warehouse_dir": str(warehouse)}).list_tables(path)
        assert len(tables) == 1 and all(c.isalnum() or c == "_" for c in tables[0][1]), tables
        table = open_catalog({"warehouse_dir": str(warehouse)}).load_table(tables[0])
        return sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(("record", "batch"), pool.map(load, ("record", "batch")), strict=True))


def _expected() -> list[dict[str, Any]]:
    return [{"id": i, NAME: name, KEY: key} for i, name, key in ROWS]


def test_postgres_hostile_identifiers_load_on_both_paths(pg_service, tmp_path: Path) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        quoted = '"' + TABLE.replace('"', '""') + '"'
        cursor.execute(f'CREATE TABLE "{schema}".canary (x int)')
        cursor.execute(
            f'CREATE TABLE "{schema}".{quoted} (id int PRIMARY KEY, '
            f'"{NAME.replace(chr(34), chr(34) * 2)}" text, "{KEY.replace(chr(34), chr(34) * 2)}" int)'
        )
        for row in ROWS:
            cursor.execute(f'INSERT INTO "{schema}".{quoted} VALUES (%s, %s, %s)', row)
        config = {
            "host": pg_service.host,
            "port": pg_service.port,
            "user": pg_service.user,
            "database": pg_service.db,
            "filter_schemas": [schema],
        }
        loaded = _load("postgres", config, f"{schema}-{TABLE}", tmp_path)
        cursor.execute(f'SELECT count(*) FROM "{schema}".canary')
        assert cursor.fetchone() == (0,)
    assert loaded["record"] == loaded["batch"] == _expected()


def test_mariadb_hostile_identifiers_load_on_both_paths(mariadb_service, tmp_path: Path) -> None:
    with mariadb_database(mariadb_service) as (database, cursor):

        def q(name: str) -> str:
            return "`" + name.replace("`", "``") + "`"

        cursor.execute("CREATE TABLE canary (x int)")
        cursor.execute(f"CREATE TABLE {q(TABLE)} (id int PRIMARY KEY, {q(NAME)} text, {q(KEY)} int)")
        for row in ROWS:
            cursor.execute(f"INSERT INTO {q(TABLE)} VALUES (%s, %s, %s)", row)
        config = {
            "host": mariadb_service.host,
            "port": mariadb_service.port,
            "user": mariadb_service.user,
            "database": database,
            "filter_schemas": [database],
        }
        loaded = _load("mysql", config, f"{database}-{TABLE}", tmp_path)
        cursor.execute("SELECT count(*) FROM canary")
        assert cursor.fetchone() == (0,)
    assert loaded["record"] == loaded["batch"] == _expected()
