"""Database sources losing their connection mid-run, end to end through `dativo run`:
PostgreSQL ``pg_terminate_backend`` under tap-postgres (fast path and RECORD path) and MariaDB
``KILL`` under tap-mysql. Only the connections to a database made for the test are ended (the
servers are the shared ones). The run either completes, or ends with exit 2 and one line naming
the server, the state file no further than the table; the rerun completes with every row
exactly once."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from target_iceberg.bookmark import latest_bookmark
from target_iceberg.catalog import open_catalog

from tests.helpers.databases import create_orders
from tests.helpers.faults import assert_no_duplicates, assert_once, finish, full_only, report, start_run
from tests.helpers.project import REPO, Project

pytestmark = [pytest.mark.integration, pytest.mark.faults]

ROWS = 150_000
BATCH_ROWS = 10_000


def _job(project: Project, name: str, table: str, connection: dict[str, Any], fast_path: bool) -> Path:
    job = yaml.safe_load((REPO / "jobs" / "acme" / f"{name}.yaml").read_text())
    job["source"].update(objects=[table], connection=connection, fast_path=fast_path)
    job["target"] = {"batch": {"rows": BATCH_ROWS}}
    return project.write_job(name, job)


def _ids(project: Project, table: str, key: str) -> list[int]:
    catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
    if not catalog.table_exists(table):
        return []
    return catalog.load_table(table).scan(selected_fields=(key,)).to_arrow().column(key).to_pylist()


def _state_matches_table(project: Project, job: Path, table: str) -> None:
    """The state file holds what the table's newest bookmark holds (or neither exists)."""
    state_file = project.root / "state" / "acme" / f"{job.stem}.json"
    saved = json.loads(state_file.read_text()) if state_file.exists() else None
    catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
    found = latest_bookmark(catalog.load_table(table)) if catalog.table_exists(table) else None
    assert saved == (json.loads(found[0]) if found else None)


class Killer(threading.Thread):
    """Ends the test database's connections while the run reads: as soon as one is active,
    then ``times`` more a little apart."""

    def __init__(self, kill_once: Callable[[], int], times: int = 2) -> None:
        super().__init__(daemon=True)
        self.kill_once, self.times, self.killed = kill_once, times, 0
        self.stop = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while not self.stop.is_set() and time.monotonic() < deadline and self.times > 0:
            found = self.kill_once()
            if found:
                self.killed += found
                self.times -= 1
                time.sleep(0.5)
            else:
                time.sleep(0.02)


def _fault_then_rerun(project: Project, job: Path, table: str, key: str, killer: Killer) -> tuple[int, int]:
    """The run with ``killer`` ending connections, then reruns until complete; (first exit
    code, connections ended)."""
    run = start_run(project, job)
    killer.start()
    first = finish(run)
    killer.stop.set()
    killer.join()
    assert killer.killed >= 1, "no connection of the run was ended: the fault proved nothing"
    assert first.code in (0, 2), first.stderr[-3000:]
    assert "Traceback" not in first.stderr
    if first.code == 2:
        assert first.summary["error"].count("\n") == 0 and "failed" in first.summary["error"]
        _state_matches_table(project, job, table)
        assert_no_duplicates(_ids(project, table, key))
        rerun = finish(start_run(project, job))
        assert rerun.code == 0, rerun.stderr[-3000:]
    return first.code, killer.killed


# -- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture
def pg_database(pg_service: Any) -> Iterator[str]:
    """A database on the shared server with ``orders`` of ROWS rows; dropped afterwards."""
    import psycopg2

    name = f"faults_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(pg_service.dsn)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg2.connect(pg_service.dsn.rsplit("/", 1)[0] + f"/{name}") as db, db.cursor() as cursor:
            create_orders(cursor, "orders")
            cursor.execute(
                "INSERT INTO orders SELECT g, g % 100, 'new', (g % 1000) / 100.0, 'USD', 'o' || g || '@example.com', "
                "timestamptz '2024-01-01' + g * interval '1 second', timestamptz '2024-01-01' + g * interval '1 second' "
                f"FROM generate_series(1, {ROWS}) g"
            )
        db.close()
        yield name
    finally:
        _pg_terminate(pg_service.dsn, name)
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def _pg_terminate(dsn: str, database: str) -> int:
    import psycopg2

    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid() AND state = 'active'",
            (database,),
        )
        row = cursor.fetchone()
    connection.close()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("fast_path", [True, pytest.param(False, marks=full_only)], ids=["fast", "record"])
def test_postgres_source_connections_terminated(
    project: Project, pg_service: Any, pg_database: str, fast_path: bool
) -> None:
    connection = {"host": pg_service.host, "port": pg_service.port, "user": pg_service.user,
                  "database": pg_database}
    job = _job(project, "postgres_orders_to_iceberg", "public.orders", connection, fast_path)

    code, killed = _fault_then_rerun(
        project, job, "acme.db_orders", "order_id", Killer(lambda: _pg_terminate(pg_service.dsn, pg_database))
    )

    assert_once(_ids(project, "acme.db_orders", "order_id"), set(range(1, ROWS + 1)))
    _state_matches_table(project, job, "acme.db_orders")
    report(f"postgres source {'fast' if fast_path else 'record'} path", terminated=killed, first_exit=code,
           rows=ROWS)


# -- MariaDB -----------------------------------------------------------------------------------


@pytest.fixture
def my_database(mariadb_service: Any) -> Iterator[str]:
    """A database on the shared MariaDB with ``customers`` of ROWS rows; dropped afterwards."""
    name = f"faults_{uuid.uuid4().hex[:10]}"
    connection = mariadb_service.connect()
    cursor = connection.cursor()
    cursor.execute(f"CREATE DATABASE `{name}`")
    try:
        cursor.execute(
            f"CREATE TABLE `{name}`.customers (customer_id bigint PRIMARY KEY, email varchar(80), "
            "full_name varchar(80), country char(2), is_active boolean, lifetime_value decimal(14,2), "
            "created_at datetime NOT NULL, updated_at datetime NOT NULL)"
        )
        cursor.execute(
            f"INSERT INTO `{name}`.customers SELECT seq, concat('c', seq, '@example.com'), concat('Name ', seq), "
            "'NL', seq % 2, (seq % 1000) / 100, '2024-01-01' + INTERVAL seq SECOND, "
            f"'2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_{ROWS}"
        )
        yield name
    finally:
        _my_kill(mariadb_service, name)
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        connection.close()


def _my_kill(service: Any, database: str) -> int:
    """``KILL`` every connection using ``database`` or querying it (but this one)."""
    connection = service.connect()
    try:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT id FROM information_schema.PROCESSLIST WHERE id <> CONNECTION_ID() "
            "AND (db = %s OR info LIKE %s) AND command NOT IN ('Daemon', 'Killed')",
            (database, f"%{database}%"),
        )
        ids = [row[0] for row in cursor.fetchall()]
        for pid in ids:
            try:
                cursor.execute(f"KILL {int(pid)}")
            except Exception:  # it ended on its own meanwhile
                continue
        return len(ids)
    finally:
        connection.close()


@full_only
@pytest.mark.parametrize("fast_path", [True, False], ids=["fast", "record"])
def test_mariadb_source_connections_killed(
    project: Project, mariadb_service: Any, my_database: str, fast_path: bool
) -> None:
    connection = {"host": mariadb_service.host, "port": mariadb_service.port, "user": mariadb_service.user,
                  "database": my_database}
    job = _job(project, "mysql_customers_to_iceberg", "customers", connection, fast_path)

    code, killed = _fault_then_rerun(
        project, job, "acme.db_customers", "customer_id", Killer(lambda: _my_kill(mariadb_service, my_database))
    )

    assert_once(_ids(project, "acme.db_customers", "customer_id"), set(range(1, ROWS + 1)))
    _state_matches_table(project, job, "acme.db_customers")
    report(f"mariadb source {'fast' if fast_path else 'record'} path", killed=killed, first_exit=code,
           rows=ROWS)
