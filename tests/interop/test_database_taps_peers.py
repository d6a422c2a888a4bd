"""Our tap-postgres and tap-mysql (RECORD path, as any Singer stack runs them) into MeltanoLabs
target-csv (PyPI, its own venv): the file it writes holds every row with the source's values."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.databases import TAPS, discover, mariadb_database, pg_schema, select
from tests.interop.conftest import peer_executable, pipe, write_json

pytestmark = pytest.mark.integration

ROWS = 300
NAMES = ['Zoë, "the" Ångström 🚀', "multi\nline", None, "日本語"]


def _expected() -> list[dict[str, str]]:
    """What target-csv writes: Python's str() of each value, an empty cell for NULL."""
    return [
        {
            "id": str(i),
            "name": NAMES[i % 4] or "",
            "amount": "" if i % 7 == 0 else f"{i}.25",
            "flag": "" if i % 5 == 0 else str(i % 2 == 0),
        }
        for i in range(1, ROWS + 1)
    ]


def _insert_rows(cursor: Any, table: str) -> None:
    cursor.executemany(
        f"INSERT INTO {table} (id, name, amount, flag) VALUES (%s, %s, %s, %s)",
        [
            (i, NAMES[i % 4], None if i % 7 == 0 else f"{i}.25", None if i % 5 == 0 else i % 2 == 0)
            for i in range(1, ROWS + 1)
        ],
    )


def _into_target_csv(
    tap: str, config: dict[str, Any], stream_id: str, tmp_path: Path
) -> list[dict[str, str]]:
    catalog = select(discover(tap, config, tmp_path), stream_id)
    out = tmp_path / "out"
    out.mkdir()
    argv: list[str | Path] = [
        *TAPS[tap],
        "--config",
        write_json(tmp_path / "tap.json", config),
        "--catalog",
        write_json(tmp_path / "catalog.json", catalog),
    ]
    target = [
        peer_executable("target-csv"),
        "--config",
        write_json(tmp_path / "csv.json", {"destination_path": str(out)}),
    ]
    sent, _ = pipe(argv, target, cwd=tmp_path)
    assert sent.count(b'"type":"RECORD"') + sent.count(b'"type": "RECORD"') == ROWS
    (written,) = list(out.glob("*.csv"))
    with written.open(newline="", encoding="utf-8") as handle:
        rows = [{k: row[k] for k in ("id", "name", "amount", "flag")} for row in csv.DictReader(handle)]
    return sorted(rows, key=lambda r: int(r["id"]))


def test_tap_postgres_into_meltanolabs_target_csv(tmp_path: Path, pg_service: Any) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(
            f'CREATE TABLE "{schema}".items (id bigint PRIMARY KEY, name text, amount numeric(12,2), flag boolean)'
        )
        _insert_rows(cursor, f'"{schema}".items')
        config = {
            "host": pg_service.host,
            "port": pg_service.port,
            "user": pg_service.user,
            "database": pg_service.db,
            "filter_schemas": [schema],
        }
        assert _into_target_csv("postgres", config, f"{schema}-items", tmp_path) == _expected()


def test_tap_mysql_into_meltanolabs_target_csv(tmp_path: Path, mariadb_service: Any) -> None:
    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute(
            "CREATE TABLE items (id bigint PRIMARY KEY, name text, amount decimal(12,2), flag boolean)"
        )
        _insert_rows(cursor, "items")
        config = {
            "host": mariadb_service.host,
            "port": mariadb_service.port,
            "user": mariadb_service.user,
            "database": database,
            "filter_schemas": [database],
        }
        assert _into_target_csv("mysql", config, f"{database}-items", tmp_path) == _expected()
