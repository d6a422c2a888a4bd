"""The log-based sources of the crash trials (docs/CDC.md): PostgreSQL's orders table read from a
replication slot, MariaDB's customers table read from the binlog, while changes flow. Before each trial, and by a writer thread during it, the
source gets inserts, updates, deletes and primary-key changes in transactions of several
statements; after the clean rerun the table must hold every row exactly as the source does."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
from target_iceberg.catalog import open_catalog

from tests.helpers.crash_sources import Source, _job
from tests.helpers.databases import create_orders, mariadb_database, pg_schema, unique_name
from tests.helpers.project import Project

PER_TRIAL = 3000
FLOW_SECONDS = 3.0  # how long the writer thread changes the source during a trial
KEY_MOVE = 10_000_000  # a moved key: old + this


class _Changes:
    """Changes of the orders table: one batch before a trial, a flow of small transactions
    during it (joined before the next trial and before the source is read back)."""

    def __init__(self, dsn: str, table: str) -> None:
        self.dsn, self.table = dsn, table
        self.next_id = 1
        self.rng = random.Random(29)
        self.thread: threading.Thread | None = None

    def _transaction(self, cursor: Any, inserts: int) -> None:
        low, high = self.next_id, self.next_id + inserts - 1
        self.next_id = high + 1
        t = self.table
        cursor.execute(
            f"INSERT INTO {t} SELECT g, g % 100, 'new', (g % 1000) / 100.0, 'USD', 'o' || g || '@example.com', "
            f"now(), now() FROM generate_series({low}, {high}) g"
        )
        if low > 1:
            picks = [self.rng.randrange(1, low) for _ in range(4)]
            cursor.execute(
                f"UPDATE {t} SET status = 'paid', amount = amount + 1 WHERE order_id IN %s", (tuple(picks),)
            )
            cursor.execute(f"DELETE FROM {t} WHERE order_id = %s", (picks[0],))
            cursor.execute(
                f"UPDATE {t} SET order_id = order_id + {KEY_MOVE} WHERE order_id = %s AND order_id < {KEY_MOVE}",
                (picks[1],),
            )

    def grow(self, trial: int) -> None:
        self.join()
        connection = psycopg2.connect(self.dsn)
        with connection, connection.cursor() as cursor:
            self._transaction(cursor, PER_TRIAL)
        connection.close()
        self.thread = threading.Thread(target=self._flow, daemon=True)
        self.thread.start()

    def _flow(self) -> None:
        connection = psycopg2.connect(self.dsn)
        deadline = time.monotonic() + FLOW_SECONDS
        while time.monotonic() < deadline:
            with connection, connection.cursor() as cursor:
                self._transaction(cursor, 20)
            time.sleep(0.05)
        connection.close()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join(timeout=60)
            self.thread = None


@contextmanager
def postgres_log_source(project: Project, request: Any) -> Iterator[Source]:
    """orders read by ``strategy: log_based`` (fast-path snapshot, then changes)."""
    service = request.getfixturevalue("pg_service")
    slot = unique_name("crash_slot")
    with pg_schema(service.dsn) as (schema, cursor):
        table = f'"{schema}".orders'
        create_orders(cursor, table)
        changes = _Changes(service.dsn, table)

        def expected() -> set[Any]:
            changes.join()
            cursor.execute(f"SELECT order_id FROM {table}")
            return {row[0] for row in cursor.fetchall()}

        def final_check() -> None:
            cursor.execute(f"SELECT order_id, status, amount FROM {table}")
            source = sorted(tuple(row) for row in cursor.fetchall())
            lake = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table(
                "acme.db_orders"
            )
            rows = lake.scan(selected_fields=("order_id", "status", "amount")).to_arrow().to_pylist()
            assert sorted((r["order_id"], r["status"], r["amount"]) for r in rows) == source

        block = {
            "objects": [f"{schema}.orders"],
            "connection": {
                "host": service.host,
                "port": service.port,
                "user": service.user,
                "password": "",
                "database": service.db,
            },
            "incremental": {"strategy": "log_based", "slot": slot, "publication": slot},
            "batch_rows": 2000,
        }
        try:
            yield Source(
                _job("postgres", "db_orders", "assets/postgres/v1.0/db_orders.yaml", block),
                "tap-postgres",
                "order_id",
                None,
                changes.grow,
                expected,
                batch_rows=2000,
                max_delay=1.5,
                final_check=final_check,
            )
        finally:
            changes.join()
            for _ in range(60):  # a killed tap's session may hold the slot a moment longer
                cursor.execute(
                    "SELECT pg_drop_replication_slot(slot_name), 1 FROM pg_replication_slots "
                    "WHERE slot_name = %s AND NOT active",
                    (slot,),
                )
                cursor.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (slot,))
                if not cursor.fetchone()[0]:
                    break
                time.sleep(0.5)
            cursor.execute(f'DROP PUBLICATION IF EXISTS "{slot}"')


class _MySQLChanges(_Changes):
    """The same changes of MariaDB's customers table (``connect`` makes a PyMySQL connection)."""

    def __init__(self, connect: Any, database: str) -> None:
        super().__init__("", f"`{database}`.customers")
        self.connect = connect

    def _transaction(self, cursor: Any, inserts: int) -> None:
        low, high = self.next_id, self.next_id + inserts - 1
        self.next_id = high + 1
        t = self.table
        cursor.execute("BEGIN")
        cursor.execute(
            f"INSERT INTO {t} SELECT seq, concat('c', seq, '@x.io'), 'N', 'PT', 1, (seq % 1000) / 100, "
            f"now(6), now(6) FROM seq_{low}_to_{high}"
        )
        if low > 1:
            picks = [self.rng.randrange(1, low) for _ in range(4)]
            cursor.execute(f"UPDATE {t} SET lifetime_value = lifetime_value + 1 WHERE customer_id IN %s", (picks,))
            cursor.execute(f"DELETE FROM {t} WHERE customer_id = %s", (picks[0],))
            cursor.execute(
                f"UPDATE {t} SET customer_id = customer_id + {KEY_MOVE} "
                f"WHERE customer_id = %s AND customer_id < {KEY_MOVE}",
                (picks[1],),
            )
        cursor.execute("COMMIT")

    def grow(self, trial: int) -> None:
        self.join()
        connection = self.connect()
        with connection.cursor() as cursor:
            self._transaction(cursor, PER_TRIAL)
        connection.close()
        self.thread = threading.Thread(target=self._flow, daemon=True)
        self.thread.start()

    def _flow(self) -> None:
        connection = self.connect()
        deadline = time.monotonic() + FLOW_SECONDS
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                self._transaction(cursor, 20)
            time.sleep(0.05)
        connection.close()


@contextmanager
def mysql_log_source(project: Project, request: Any) -> Iterator[Source]:
    """customers read by ``strategy: log_based`` from MariaDB's binlog (a snapshot under the
    table's read lock, then changes)."""
    service = request.getfixturevalue("mariadb_service")
    with mariadb_database(service) as (database, cursor):
        cursor.execute(
            "CREATE TABLE customers (customer_id int PRIMARY KEY, email varchar(200), full_name varchar(200), "
            "country char(2), is_active tinyint(1), lifetime_value decimal(14,2), "
            "created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL)"
        )
        changes = _MySQLChanges(service.connect, database)

        def expected() -> set[Any]:
            changes.join()
            cursor.execute("SELECT customer_id FROM customers")
            return {row[0] for row in cursor.fetchall()}

        def final_check() -> None:
            cursor.execute("SELECT customer_id, lifetime_value FROM customers")
            source = sorted((row[0], row[1]) for row in cursor.fetchall())
            lake = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table(
                "acme.db_customers"
            )
            rows = lake.scan(selected_fields=("customer_id", "lifetime_value")).to_arrow().to_pylist()
            assert sorted((r["customer_id"], r["lifetime_value"]) for r in rows) == source

        block = {
            "objects": ["customers"],
            "connection": {
                "host": service.host,
                "port": service.port,
                "user": service.user,
                "password": "",
                "database": database,
            },
            "incremental": {"strategy": "log_based"},
            "batch_rows": 2000,
        }
        try:
            yield Source(
                _job("mysql", "db_customers", "assets/mysql/v1.0/db_customers.yaml", block),
                "tap-mysql",
                "customer_id",
                None,
                changes.grow,
                expected,
                batch_rows=2000,
                max_delay=1.5,
                final_check=final_check,
            )
        finally:
            changes.join()
