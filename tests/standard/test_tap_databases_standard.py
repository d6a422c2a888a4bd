"""singer-sdk's standard tap tests for tap-postgres and tap-mysql against the real servers.

singer-sdk runs discovery while it builds the test classes (at collection), so the fixture table
must exist then: one fixed, read-only fixture schema (PostgreSQL) and database (MariaDB) named
``dativo_std``, created idempotently at import and shared by every run."""

from __future__ import annotations

import contextlib

from singer_sdk.testing import get_tap_test_class
from tap_mysql.tap import TapMySQL
from tap_postgres.tap import TapPostgres

from tests import services

SCHEMA = "dativo_std"
ROWS = "(1, 'a', 1.50, true, '2024-01-01 00:00:00'), (2, NULL, NULL, false, '2024-01-02 00:00:00')"


def _postgres() -> services.PostgresService:
    import psycopg2

    services.ensure_up("postgres")
    info = services.postgres()
    connection = psycopg2.connect(info.dsn)
    connection.autocommit = True
    with connection.cursor() as cursor:
        with contextlib.suppress(psycopg2.errors.UniqueViolation, psycopg2.errors.DuplicateSchema):
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        with contextlib.suppress(psycopg2.errors.UniqueViolation, psycopg2.errors.DuplicateTable):
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {SCHEMA}.items (id int PRIMARY KEY, name text, "
                "price numeric(8,2), active boolean, updated_at timestamp)"
            )
        cursor.execute(f"INSERT INTO {SCHEMA}.items VALUES {ROWS} ON CONFLICT DO NOTHING")
    connection.close()
    return info


def _mariadb() -> services.MariaDBService:
    services.ensure_up("mariadb")
    info = services.mariadb()
    connection = info.connect()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {SCHEMA}")
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.items (id int PRIMARY KEY, name text, "
            "price decimal(8,2), active tinyint(1), updated_at datetime)"
        )
        cursor.execute(f"INSERT IGNORE INTO {SCHEMA}.items VALUES {ROWS}")
    connection.close()
    return info


PG, MY = _postgres(), _mariadb()

TestTapPostgres = get_tap_test_class(
    tap_class=TapPostgres,
    config={"host": PG.host, "port": PG.port, "user": PG.user, "database": PG.db, "filter_schemas": [SCHEMA]},
)
TestTapMySQL = get_tap_test_class(
    tap_class=TapMySQL,
    config={
        "host": MY.host,
        "port": MY.port,
        "user": MY.user,
        "database": SCHEMA,
        "filter_schemas": [SCHEMA],
    },
)
