"""`dativo run` of the README's PostgreSQL orders job with ``strategy: log_based``: the Iceberg
table equals the source table after the snapshot and after inserts, updates, deletes and a key
change; the slot's lag is in the summary; `dativo state reset` drops the slot; a cursor column
given with log_based is refused by `dativo validate` (docs/CDC.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.databases import pg_schema, unique_name
from tests.helpers.project import REPO, Project
from tests.integration.test_database_jobs import ORDER_COLUMNS, _lake_rows, _pg_env, _run, _utc

pytestmark = pytest.mark.integration


def _log_job(project: Project, table: str, slot: str, **incremental: Any) -> Path:
    job = yaml.safe_load((REPO / "jobs" / "acme" / "postgres_orders_to_iceberg.yaml").read_text())
    job["source"]["objects"] = [table]
    job["source"]["incremental"] = {"strategy": "log_based", "slot": slot, "publication": slot, **incremental}
    return project.write_job("postgres_orders_log", job)


def _slot_exists(cursor: Any, slot: str) -> bool:
    cursor.execute("SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (slot,))
    return bool(cursor.fetchone()[0])


def test_postgres_orders_job_log_based(project: Project, pg_service: Any) -> None:
    slot = unique_name("dativo_orders")
    with pg_schema(pg_service.dsn) as (schema, cursor):
        orders = f'"{schema}".orders'
        cursor.execute(
            f"CREATE TABLE {orders} (order_id bigint PRIMARY KEY, customer_id bigint NOT NULL, "
            "status text, amount numeric(12,2), currency char(3), customer_email text, "
            "created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)"
        )
        cursor.execute(
            f"INSERT INTO {orders} SELECT g, g * 10, 'new', g + 0.25, 'USD', 'c' || g || '@example.com', "
            "now(), now() FROM generate_series(1, 20) g"
        )

        def source() -> list[tuple[Any, ...]]:
            cursor.execute(f"SELECT {', '.join(ORDER_COLUMNS)} FROM {orders}")
            return sorted(
                tuple(_utc(v) if isinstance(v, dt.datetime) else v for v in row) for row in cursor.fetchall()
            )

        env = _pg_env(pg_service)
        job = _log_job(project, f"{schema}.orders", slot)
        try:
            summary = _run(project, job, env)
            assert _lake_rows(project, "acme.db_orders", ORDER_COLUMNS) == source()
            assert summary["streams"][0]["rows"] == 20

            cursor.execute(
                f"BEGIN; UPDATE {orders} SET status = 'paid', updated_at = now() - interval '30 days' "
                f"WHERE order_id = 2; DELETE FROM {orders} WHERE order_id IN (3, 4); "
                f"UPDATE {orders} SET order_id = 300 WHERE order_id = 5; COMMIT"
            )
            cursor.execute(f"INSERT INTO {orders} VALUES (21, 1, 'new', 1, 'EUR', NULL, now(), now())")
            summary = _run(project, job, env)
            lake = _lake_rows(project, "acme.db_orders", ORDER_COLUMNS)
            assert lake == source()
            assert [row[0] for row in lake if row[0] in (2, 3, 4, 5, 300)] == [2, 300]
            emails = dict(_lake_rows(project, "acme.db_orders", ("order_id", "customer_email")))
            assert emails[21] is None and len(emails[300]) == 64  # PII hashed in changes too
            assert "c5@example.com" not in str(emails)
            metrics = summary["streams"][0]["source_metrics"]
            assert metrics["slot_retained_wal_bytes"] >= metrics["slot_lag_bytes"] > 0

            reset = project.dativo("state", "reset", "--config", str(job), "--force", env=env)
            assert reset.returncode == 0, reset.stderr[-3000:]
            assert not _slot_exists(cursor, slot)
        finally:
            cursor.execute(
                "SELECT pg_drop_replication_slot(%s) FROM pg_replication_slots WHERE slot_name = %s",
                (slot, slot),
            )
            cursor.execute(f'DROP PUBLICATION IF EXISTS "{slot}"')


def test_cursor_field_with_log_based_is_refused(project: Project) -> None:
    job = _log_job(project, "public.orders", "dativo_orders", cursor_field="updated_at")
    result = project.dativo("validate", "--config", str(job))
    assert result.returncode == 2
    assert "source.incremental.cursor_field: is not used by strategy 'log_based'" in result.stderr
