"""A PostgreSQL cursor job asks the server before starting the pipe: with no row of the look-back
window written since the check before the last successful run, it starts neither program; any
row the pipe would land (a new row, a row changed without its cursor moving, a row committed late
inside the window) runs it, and the table ends equal to the source table; a changed plan (the
look-back) runs it too. (A new row past the bookmark: test_database_jobs.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.databases import create_orders, pg_schema
from tests.helpers.project import Project
from tests.integration.test_database_jobs import ORDER_COLUMNS, _job, _lake_rows, _pg_env, _utc

pytestmark = pytest.mark.integration

SKIPPED = "orders: nothing new since the last run; tap and target not started"


def _run(project: Project, job: Path, env: dict[str, str], *flags: str) -> tuple[dict[str, Any], bool]:
    code, summary, stderr = project.run_json("--config", str(job), *flags, env=env)
    assert code == 0, stderr[-3000:]
    return summary["streams"][0], SKIPPED in stderr


def test_postgres_cursor_job_skips_only_when_nothing_would_land(project: Project, pg_service) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        table = f'"{schema}".orders'
        create_orders(cursor, table)
        insert = f"INSERT INTO {table} VALUES (%s, 1, %s, 1.00, 'EUR', NULL, %s, %s)"
        now = dt.datetime.now(dt.timezone.utc)
        for order_id, hours in ((1, 72), (2, 5), (3, 2)):
            moment = now - dt.timedelta(hours=hours)
            cursor.execute(insert, (order_id, "new", moment, moment))

        def source() -> list[tuple[Any, ...]]:
            cursor.execute(f"SELECT {', '.join(ORDER_COLUMNS)} FROM {table}")
            return sorted(
                tuple(_utc(v) if isinstance(v, dt.datetime) else v for v in row) for row in cursor.fetchall()
            )

        env = _pg_env(pg_service)
        job = _job(project, "postgres_orders_to_iceberg", f"{schema}.orders")
        first, skipped = _run(project, job, env)
        assert (first["rows"], skipped) == (3, False)
        state_file = project.root / "state/acme/postgres_orders_to_iceberg.json"
        state = state_file.read_bytes()

        stream, skipped = _run(project, job, env)  # nothing written since the check before the load
        assert skipped and stream["rows"] == 0 and stream["snapshot_id"] == first["snapshot_id"]
        assert state_file.read_bytes() == state

        # Changed outside the window (its cursor kept 3 days back): no run reads it, skipped alike.
        cursor.execute(f"UPDATE {table} SET status = 'old' WHERE order_id = 1")
        assert _run(project, job, env)[1]

        # Changed inside the window without its cursor moving: the pipe's look-back lands it.
        cursor.execute(f"UPDATE {table} SET status = 'paid' WHERE order_id = 2")
        stream, skipped = _run(project, job, env)
        assert not skipped and stream["rows"] == 2  # 2 and 3, the window

        # Committed late with a cursor inside the window (before the bookmark).
        late = now - dt.timedelta(hours=4)
        cursor.execute(insert, (4, "late", late, late))
        stream, skipped = _run(project, job, env)
        assert not skipped and stream["rows"] == 3
        assert _run(project, job, env)[1]

        # A changed plan (a longer look-back) runs the pipe; the table is the source table.
        config = yaml.safe_load(job.read_text())
        config["source"]["incremental"]["lookback_days"] = 5
        job.write_text(yaml.safe_dump(config))
        stream, skipped = _run(project, job, env)
        assert not skipped and stream["rows"] == 4
        assert _lake_rows(project, "acme.db_orders", ORDER_COLUMNS) == source()
        assert _run(project, job, env)[1]
