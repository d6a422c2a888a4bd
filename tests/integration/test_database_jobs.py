"""`dativo run` of the README's database jobs (PostgreSQL orders, MariaDB customers): incremental
runs with inserts and updates in between leave the Iceberg table equal to the source table, the
look-back window duplicates nothing, on the fast path and on the RECORD path; MySQL TIME
beyond a day lands exactly as MySQL text; bad input is one
line, exit 2, nothing written, the password never shown."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from target_iceberg.catalog import open_catalog

from tests.helpers.databases import create_orders, mariadb_database, pg_schema
from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration

PG_SECRET = "pg-Secret-Pass-4711"
MY_SECRET = "my-Secret-Pass-4711"
# PII columns (customer_email, email, full_name) are hashed by the policy: compared apart.
ORDER_COLUMNS = ("order_id", "customer_id", "status", "amount", "currency", "created_at", "updated_at")
CUSTOMER_COLUMNS = ("customer_id", "country", "is_active", "lifetime_value", "created_at", "updated_at")


def _job(project: Project, name: str, table: str, as_name: str | None = None, **source: Any) -> Path:
    job = yaml.safe_load((REPO / "jobs" / "acme" / f"{name}.yaml").read_text())
    job["source"]["objects"] = [table]
    job["source"].update(source)
    return project.write_job(as_name or name, job)


def _pg_env(pg_service: Any, **extra: str) -> dict[str, str]:
    return {
        "PG_HOST": pg_service.host,
        "PG_PORT": str(pg_service.port),
        "PG_USER": pg_service.user,
        "PG_DATABASE": pg_service.db,
        "PG_PASSWORD": PG_SECRET,
        **extra,
    }


def _my_env(service: Any, database: str, **extra: str) -> dict[str, str]:
    return {
        "MYSQL_HOST": service.host,
        "MYSQL_PORT": str(service.port),
        "MYSQL_USER": service.user,
        "MYSQL_DATABASE": database,
        "MYSQL_PASSWORD": "",
        **extra,
    }


def _lake_rows(project: Project, table: str, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
    rows = catalog.load_table(table).scan().to_arrow().to_pylist()
    return sorted(tuple(row[c] for c in columns) for row in rows)


def _utc(value: dt.datetime) -> dt.datetime:
    return (
        value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
    )


def _run(project: Project, job: Path, env: dict[str, str]) -> dict[str, Any]:
    code, summary, stderr = project.run_json("--config", str(job), env=env)
    assert code == 0, stderr[-3000:]
    return summary


def test_postgres_orders_job_incremental_on_both_paths(project: Project, pg_service) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        create_orders(cursor, f'"{schema}".orders')
        insert = (
            f'INSERT INTO "{schema}".orders VALUES (%s, %s, %s, %s, %s, %s, now() - interval %s, '
            "now() - interval %s)"
        )
        for row in [
            (1, 10, "new", "10.10", "USD", "a@example.com", "3 days", "3 days"),
            (2, 11, "new", "99999999.99", "EUR", None, "2 hours", "2 hours"),
            (3, 12, "paid", "0.01", "GBP", "c@example.com", "5 hours", "5 hours"),
        ]:
            cursor.execute(insert, row)

        def source() -> list[tuple[Any, ...]]:
            cursor.execute(f'SELECT {", ".join(ORDER_COLUMNS)} FROM "{schema}".orders')
            return sorted(
                tuple(_utc(v) if isinstance(v, dt.datetime) else v for v in row) for row in cursor.fetchall()
            )

        env = _pg_env(pg_service)
        job = _job(project, "postgres_orders_to_iceberg", f"{schema}.orders")
        summary = _run(project, job, env)
        assert summary["streams"][0]["rows"] == 3
        assert _lake_rows(project, "acme.db_orders", ORDER_COLUMNS) == source()

        # An update and an insert; the look-back (1 day before the bookmark, row 2's 2 h ago) re-reads
        # row 3 too: merged, not duplicated.
        cursor.execute(
            f"UPDATE \"{schema}\".orders SET status = 'paid', amount = 5.55, updated_at = now() WHERE order_id = 2"
        )
        cursor.execute(insert, (4, 13, "new", "1.00", "USD", "d@example.com", "1 minute", "1 minute"))
        summary = _run(project, job, env)
        assert summary["streams"][0]["rows"] == 3  # 2 and 4, and 3 (5 h old) from the look-back
        assert _lake_rows(project, "acme.db_orders", ORDER_COLUMNS) == source()

        # The RECORD path continues from the same bookmark.
        cursor.execute(
            f"UPDATE \"{schema}\".orders SET status = 'refunded', updated_at = now() WHERE order_id = 1"
        )
        _run(project, _job(project, "postgres_orders_to_iceberg", f"{schema}.orders", fast_path=False), env)
        lake = _lake_rows(project, "acme.db_orders", ORDER_COLUMNS)
        assert lake == source()
        assert [r[2] for r in lake] == ["refunded", "paid", "paid", "new"]
        assert lake[1][3] == Decimal("5.55")
        emails = dict(_lake_rows(project, "acme.db_orders", ("order_id", "customer_email")))
        assert emails[2] is None and len(emails[1]) == 64  # PII: hashed by the policy
    assert not any(PG_SECRET in p.read_text(errors="replace") for p in project.files_under("state"))


def test_mysql_customers_job_incremental(project: Project, mariadb_service) -> None:
    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute(
            "CREATE TABLE customers (customer_id int PRIMARY KEY, email varchar(200), full_name varchar(200), "
            "country char(2), is_active tinyint(1), lifetime_value decimal(14,2), "
            "created_at datetime(6) NOT NULL, updated_at timestamp(6) NOT NULL DEFAULT current_timestamp(6))"
        )
        insert = "INSERT INTO customers VALUES (%s, %s, %s, %s, %s, %s, now(6) - interval 1 day, now(6) - interval %s hour)"
        for row in [
            (1, "a@x.io", "Ana", "PT", 1, "1.50", 30),
            (2, None, "Ben", "DE", 0, "123456789012.34", 2),
        ]:
            cursor.execute(insert, row)

        def source() -> list[tuple[Any, ...]]:
            cursor.execute(
                f"SELECT customer_id, country, is_active <> 0, lifetime_value, created_at, "
                f"CONVERT_TZ(updated_at, @@session.time_zone, '+00:00') FROM `{database}`.customers"
            )
            return sorted(
                tuple(
                    _utc(v) if isinstance(v, dt.datetime) else bool(v) if i == 2 else v
                    for i, v in enumerate(row)
                )
                for row in cursor.fetchall()
            )

        env = _my_env(mariadb_service, database)
        job = _job(project, "mysql_customers_to_iceberg", "customers")
        _run(project, job, env)
        assert _lake_rows(project, "acme.db_customers", CUSTOMER_COLUMNS) == source()

        cursor.execute("UPDATE customers SET is_active = 1, updated_at = now(6) WHERE customer_id = 2")
        cursor.execute(insert, (3, "c@x.io", "Cy", "FR", 1, "0.00", 0))
        _run(project, job, env)
        lake = _lake_rows(project, "acme.db_customers", CUSTOMER_COLUMNS)
        assert lake == source()
        assert [r[2] for r in lake] == [True, True, True]


def _assert_failed(project: Project, job: Path, env: dict[str, str], expected: str, secret: str) -> None:
    result = project.dativo("run", "--config", str(job), env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert any(expected in line for line in errors), result.stderr[-2000:]
    assert secret not in result.stdout + result.stderr
    assert not (project.root / "warehouse").exists() or not list(
        (project.root / "warehouse").rglob("*.parquet")
    )


def test_postgres_bad_input(project: Project, pg_service) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(f'CREATE TABLE "{schema}".orders (order_id bigint PRIMARY KEY)')
        missing = _job(project, "postgres_orders_to_iceberg", f"{schema}_gone.orders")
        job = _job(project, "postgres_orders_to_iceberg", f"{schema}.orders", as_name="unknown_host")
        cases = [
            (missing, _pg_env(pg_service), f"table '{schema}_gone.orders' does not exist"),
            (
                job,
                _pg_env(pg_service, PG_HOST="no-such-host.invalid"),
                "host: cannot resolve 'no-such-host.invalid'",
            ),
        ]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda case: _assert_failed(project, *case, PG_SECRET), cases))


def test_mysql_bad_input(project: Project, mariadb_service) -> None:
    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute("CREATE TABLE customers (customer_id int PRIMARY KEY, email text)")
        user = f"u_{database[-8:]}"
        cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'the-right-one'")
        try:
            cursor.execute(f"GRANT SELECT ON `{database}`.* TO '{user}'@'%'")
            job = _job(project, "mysql_customers_to_iceberg", "customers")
            no_key = _job(project, "mysql_customers_to_iceberg", "customers", as_name="no_key")
            cases = [
                (
                    job,
                    _my_env(mariadb_service, database, MYSQL_USER=user, MYSQL_PASSWORD=MY_SECRET),
                    "password: authentication failed",
                ),
                (no_key, _my_env(mariadb_service, database), "has no replication key column 'updated_at'"),
            ]
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda case: _assert_failed(project, *case, MY_SECRET), cases))
        finally:
            cursor.execute(f"DROP USER '{user}'@'%'")


SHIFTS_ASSET = """asset:
  name: db_shifts
  source_type: mysql
  object: shifts
  version: "1.0"
  primary_key: [shift_id]
  schema:
    - {name: shift_id, type: integer, required: true}
    - {name: worked, type: string}
    - {name: worked_ms, type: string}
    - {name: updated_at, type: timestamp, required: true}
  governance: {owner: data-team@example.com}
  target: {file_format: parquet}
"""


def test_mysql_time_beyond_a_day_lands_exactly_as_mysql_text(project: Project, mariadb_service) -> None:
    """MySQL TIME runs from -838:59:59 to 838:59:59: it lands as MySQL's text of it, on both paths."""
    project.write("assets/mysql/v1.0/db_shifts.yaml", SHIFTS_ASSET)
    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute(
            "CREATE TABLE shifts (shift_id int PRIMARY KEY, worked time, worked_ms time(3), "
            "updated_at timestamp(6) NOT NULL DEFAULT current_timestamp(6))"
        )
        cursor.execute(
            "INSERT INTO shifts (shift_id, worked, worked_ms) VALUES (1, '25:00:00', '12:34:56.789'), "
            "(2, '-01:30:00', NULL), (3, '838:59:59', '-838:59:59'), (4, NULL, '00:00:00')"
        )
        expected = [
            (1, "25:00:00", "12:34:56.789"),
            (2, "-01:30:00", None),
            (3, "838:59:59", "-838:59:59.000"),
            (4, None, "00:00:00.000"),
        ]
        cursor.execute("SELECT shift_id, CAST(worked AS CHAR), CAST(worked_ms AS CHAR) FROM shifts")
        assert sorted(cursor.fetchall()) == expected  # what MySQL itself prints
        env = _my_env(mariadb_service, database)
        for fast_path in (True, False):
            name = f"shifts_{str(fast_path).lower()}"
            spec = yaml.safe_load(
                _job(project, "mysql_customers_to_iceberg", "shifts", fast_path=fast_path).read_text()
            )
            spec.update(
                asset="db_shifts", asset_path="assets/mysql/v1.0/db_shifts.yaml", target={"table": name}
            )
            summary = _run(project, project.write_job(name, spec), env)
            assert (summary["streams"][0]["rows"], summary["streams"][0]["dead_letter_rows"]) == (4, 0), (
                summary
            )
            assert _lake_rows(project, f"acme.{name}", ("shift_id", "worked", "worked_ms")) == expected
