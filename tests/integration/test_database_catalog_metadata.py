"""The database taps' discovered catalogs carry no empty values: singer-sdk fills
``forced-replication-method`` and the stream's ``replication_method`` with ``""``, which a Singer
client may read as a method named "" (Meltano shows it; a tap forcing "" is meaningless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.databases import discover, mariadb_database, pg_schema

pytestmark = pytest.mark.integration


def _empty_values(catalog: dict[str, Any]) -> list[str]:
    found = []
    for stream in catalog["streams"]:
        found += [f"{stream['tap_stream_id']}.{k}" for k, v in stream.items() if v in ("", None)]
        for entry in stream["metadata"]:
            found += [
                f"{stream['tap_stream_id']}{entry['breadcrumb']}.{k}"
                for k, v in entry["metadata"].items()
                if v in ("", None)
            ]
    return found


def test_postgres_catalog_has_no_empty_values(pg_service: Any, tmp_path: Path) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(f'CREATE TABLE "{schema}".items (id integer PRIMARY KEY, at timestamptz, doc jsonb)')
        config = {
            "host": pg_service.host,
            "port": pg_service.port,
            "user": pg_service.user,
            "database": pg_service.db,
            "filter_schemas": [schema],
        }
        catalog = discover("postgres", config, tmp_path)
    assert [s["tap_stream_id"] for s in catalog["streams"]] == [f"{schema}-items"]
    assert _empty_values(catalog) == []
    root = next(m["metadata"] for m in catalog["streams"][0]["metadata"] if m["breadcrumb"] == [])
    assert "forced-replication-method" not in root and root["valid-replication-keys"] == ["id", "at"]


def test_mariadb_catalog_has_no_empty_values(mariadb_service: Any, tmp_path: Path) -> None:
    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute("CREATE TABLE items (id integer PRIMARY KEY, at datetime)")
        config = {
            "host": mariadb_service.host,
            "port": mariadb_service.port,
            "user": mariadb_service.user,
            "database": database,
            "filter_schemas": [database],
        }
        catalog = discover("mysql", config, tmp_path)
    assert _empty_values(catalog) == []
