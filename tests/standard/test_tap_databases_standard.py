"""singer-sdk's standard tap tests for tap-postgres and tap-mysql against the real servers.

singer-sdk builds the test classes (one test per stream and property) at collection, from the
streams of the tap it is given. The taps get a fixed catalog (``catalogs/*.json``), so collection
needs no database (``make test-unit`` runs without the services); the module fixture starts the
services and creates the fixture table (one fixed schema/database ``dativo_std``, created
idempotently and shared by every run) before the class's sync, and
``test_discovery_gives_the_fixed_catalog`` keeps the fixed catalogs equal to what the taps
discover. No json column: singer-sdk's attribute tests take a property typed with every JSON type
for a boolean (and each other type) and fail on its objects; tests/interop/test_tap_postgres_sdk_peer.py
validates such a column through singer-sdk instead."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.testing import get_tap_test_class
from tap_mysql.tap import TapMySQL
from tap_postgres.tap import TapPostgres

from tests import services

SCHEMA = "dativo_std"
TABLE = "typed_items"
CATALOGS = Path(__file__).parent / "catalogs"
BIG = "1234567890123456789012345678.1234567891"  # numeric(38,10): an x-singer.decimal string
ROWS = [
    (1, "a", "1.50", BIG, True, "2024-01-01 00:00:00"),
    (2, None, None, None, False, "2024-01-02 00:00:00"),
]
PG, MY = services.postgres(), services.mariadb()  # connection settings only: nothing is contacted
CONFIGS: dict[str, dict[str, Any]] = {
    "postgres": {
        "host": PG.host,
        "port": PG.port,
        "user": PG.user,
        "database": PG.db,
        "filter_schemas": [SCHEMA],
    },
    "mysql": {
        "host": MY.host,
        "port": MY.port,
        "user": MY.user,
        "database": SCHEMA,
        "filter_schemas": [SCHEMA],
    },
}
TAP_CLASSES: dict[str, Any] = {"postgres": TapPostgres, "mysql": TapMySQL}


def _catalog(name: str) -> dict[str, Any]:
    return json.loads((CATALOGS / f"{name}.json").read_text())


def _seed_postgres() -> None:
    import psycopg2

    services.ensure_up("postgres")
    connection = psycopg2.connect(PG.dsn)
    connection.autocommit = True
    with connection.cursor() as cursor:
        with contextlib.suppress(psycopg2.errors.UniqueViolation, psycopg2.errors.DuplicateSchema):
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        with contextlib.suppress(psycopg2.errors.UniqueViolation, psycopg2.errors.DuplicateTable):
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{TABLE} (id int PRIMARY KEY, name text, "
                "price numeric(8,2), big numeric(38,10), active boolean, updated_at timestamp)"
            )
        cursor.executemany(
            f"INSERT INTO {SCHEMA}.{TABLE} VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING", ROWS
        )
    connection.close()


def _seed_mariadb() -> None:
    services.ensure_up("mariadb")
    connection = MY.connect()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {SCHEMA}")
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{TABLE} (id int PRIMARY KEY, name text, "
            "price decimal(8,2), big decimal(38,10), active tinyint(1), updated_at datetime)"
        )
        cursor.executemany(f"INSERT IGNORE INTO {SCHEMA}.{TABLE} VALUES (%s, %s, %s, %s, %s, %s)", ROWS)
    connection.close()


@pytest.fixture(scope="module", autouse=True)
def _databases() -> None:
    """The services up and the fixture tables seeded, before any class syncs."""
    _seed_postgres()
    _seed_mariadb()


@pytest.mark.parametrize("name", ["postgres", "mysql"])
def test_discovery_gives_the_fixed_catalog(name: str) -> None:
    tap = TAP_CLASSES[name](config=CONFIGS[name], parse_env_config=False)
    stream_id = f"{SCHEMA}-{TABLE}"
    discovered = [s for s in tap.catalog_dict["streams"] if s["tap_stream_id"] == stream_id]
    assert discovered == _catalog(name)["streams"]


TestTapPostgres = get_tap_test_class(
    tap_class=TapPostgres, config=CONFIGS["postgres"], catalog=_catalog("postgres")
)
TestTapMySQL = get_tap_test_class(tap_class=TapMySQL, config=CONFIGS["mysql"], catalog=_catalog("mysql"))
