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

from tests.helpers.databases import create_orders, pg_schema, unique_name
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
        create_orders(cursor, orders)
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


@pytest.mark.parametrize("fast_path", [True, False])
def test_postgres_log_based_into_objects_keeps_a_change_log_a_reader_can_rebuild(
    project: Project, pg_service: Any, fast_path: bool
) -> None:
    """The fast path's BATCH change files reach target-objects as rows of its change log; the
    documented rule (last row per key by ``_sdc_lsn``, keys whose last row is a delete dropped)
    rebuilds the source table."""
    from tests import services
    from tests.helpers import objects

    sw = services.seaweedfs()
    bucket, prefix = objects.s3_bucket(), objects.unique_prefix("cdc")
    slot = unique_name("dativo_orders_obj")
    with pg_schema(pg_service.dsn) as (schema, cursor):
        orders = f'"{schema}".orders'
        cursor.execute(f"CREATE TABLE {orders} (order_id bigint PRIMARY KEY, status text, amount numeric(12,2))")
        cursor.execute(f"INSERT INTO {orders} SELECT g, 'new', g + 0.25 FROM generate_series(1, 10) g")
        job = yaml.safe_load(_log_job(project, f"{schema}.orders", slot).read_text())
        job.update(target_connector="s3", target_connector_path="connectors/targets/s3.yaml", asset_path=None)
        job.pop("asset_path")
        job["asset"] = "orders_log"
        job["source"]["fast_path"] = fast_path
        project.write(
            "assets/postgres/v1.0/orders_log.yaml",
            yaml.safe_dump(
                {
                    "asset": {
                        "name": "orders_log",
                        "source_type": "postgres",
                        "object": "orders",
                        "version": "1.0",
                        "primary_key": ["order_id"],
                        "schema": [
                            {"name": "order_id", "type": "integer", "required": True},
                            {"name": "status", "type": "string"},
                            {"name": "amount", "type": "decimal(12,2)"},
                        ],
                        "target": {"file_format": "parquet"},
                    }
                }
            ),
        )
        job["asset_path"] = "assets/postgres/v1.0/orders_log.yaml"
        job["target"] = {
            "connection": {
                "s3": {
                    "bucket": bucket.name,
                    "prefix": prefix,
                    "endpoint": sw.s3_endpoint,
                    "region": sw.region,
                    "access_key_id": sw.access_key,
                    "secret_access_key": "${S3_SECRET}",
                }
            }
        }
        path = project.write_job("postgres_orders_log", job)
        env = _pg_env(pg_service, S3_SECRET=sw.secret_key)
        try:
            _run(project, path, env)
            cursor.execute(
                f"BEGIN; UPDATE {orders} SET status = 'paid' WHERE order_id = 2; "
                f"DELETE FROM {orders} WHERE order_id IN (3, 4); "
                f"UPDATE {orders} SET order_id = 300 WHERE order_id = 5; COMMIT"
            )
            cursor.execute(f"INSERT INTO {orders} VALUES (11, 'new', 7.5)")
            code, summary, stderr = project.run_json("--config", str(path), env=env)
            assert code == 0, stderr[-3000:]
            assert summary["streams"][0]["rows"] >= 5
            cursor.execute(f"SELECT order_id, status, amount FROM {orders}")
            source = sorted(cursor.fetchall())
        finally:
            cursor.execute(
                "SELECT pg_drop_replication_slot(%s) FROM pg_replication_slots WHERE slot_name = %s",
                (slot, slot),
            )
            cursor.execute(f'DROP PUBLICATION IF EXISTS "{slot}"')
    [root] = {key.split("/_manifests/")[0] for key in bucket.keys(prefix + "/") if "/_manifests/" in key}
    objects.check_manifests_match_objects(bucket, root)
    log = [
        row
        for manifest in objects.manifests(bucket, root)
        for entry in manifest["files"]
        for row in objects.read_file(bucket.get(entry["key"]), manifest["format"], manifest["compression"])
    ]
    assert all("_sdc_lsn" in row and "_sdc_deleted_at" in row for row in log)
    last: dict[int, dict[str, Any]] = {}
    for row in sorted(log, key=lambda r: int(r["_sdc_lsn"] or 0)):  # stable: file order within an lsn
        last[row["order_id"]] = row
    rebuilt = sorted(
        (key, row["status"], row["amount"]) for key, row in last.items() if row["_sdc_deleted_at"] is None
    )
    assert rebuilt == source
    assert [key for key, *_ in rebuilt if key in (2, 3, 4, 5, 300)] == [2, 300]
