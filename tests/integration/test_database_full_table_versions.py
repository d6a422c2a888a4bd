"""Full-table streams of the database taps start with ACTIVATE_VERSION by default, so reading a
table twice into target-iceberg (standalone, `tap | target`) replaces it rather than doubling it;
``emit_activate_version_messages: false`` appends, as asked. Both the RECORD and the BATCH path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from target_iceberg.catalog import open_catalog

from tests.helpers.databases import batch_config, discover, mariadb_database, pg_schema, pipe, select

pytestmark = pytest.mark.integration

ROWS = 300


def _read_twice(tap: str, config: dict[str, Any], stream_id: str, tmp: Path) -> list[int]:
    """Pipe the full-table stream into one table twice; its ids after the second run."""
    catalog = select(discover(tap, config, tmp), stream_id)  # no replication key: full table
    target = {"warehouse_dir": str(tmp / "wh"), "namespace": "full", "dead_letter_dir": str(tmp / "dead")}
    for _ in range(2):
        tap_code, target_code, _, stderr = pipe(tap, config, catalog, target, tmp)
        assert (tap_code, target_code) == (0, 0), stderr[-3000:]
    table = open_catalog(target).load_table(f"full.{stream_id.replace('-', '_')}")
    return sorted(table.scan(selected_fields=("id",)).to_arrow().column("id").to_pylist())


@pytest.mark.parametrize("path", ["record", "batch"])
@pytest.mark.parametrize("setting", [None, False])
def test_postgres_full_table_read_twice(
    pg_service: Any, tmp_path: Path, path: str, setting: bool | None
) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(f'CREATE TABLE "{schema}".items (id integer PRIMARY KEY, label text)')
        cursor.execute(f"INSERT INTO \"{schema}\".items SELECT g, 'l' || g FROM generate_series(1, {ROWS}) g")
        config: dict[str, Any] = {
            "host": pg_service.host,
            "port": pg_service.port,
            "user": pg_service.user,
            "database": pg_service.db,
            "filter_schemas": [schema],
        }
        if path == "batch":
            config["batch_config"] = batch_config(tmp_path)
        if setting is not None:
            config["emit_activate_version_messages"] = setting
        ids = _read_twice("postgres", config, f"{schema}-items", tmp_path)
    expected = list(range(1, ROWS + 1))
    assert ids == (expected if setting is None else sorted(expected * 2))


def test_mariadb_full_table_read_twice_is_not_doubled(mariadb_service: Any, tmp_path: Path) -> None:
    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute("CREATE TABLE items (id integer PRIMARY KEY, label text)")
        cursor.execute("INSERT INTO items VALUES " + ",".join(f"({i}, 'l{i}')" for i in range(1, ROWS + 1)))
        config = {
            "host": mariadb_service.host,
            "port": mariadb_service.port,
            "user": mariadb_service.user,
            "database": database,
            "filter_schemas": [database],
        }
        ids = _read_twice("mysql", config, f"{database}-items", tmp_path)
    assert ids == list(range(1, ROWS + 1))
