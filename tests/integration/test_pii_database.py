"""PostgreSQL through `dativo run`: the tap hashes the classified column on the BATCH path (Arrow)
and on the RECORD path (per record, with policies) to the same value, the salted SHA-256 of the
raw text; no raw value reaches the table, the run folder or the logs."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import yaml
from target_iceberg.catalog import open_catalog

from tests.helpers.databases import create_orders, pg_schema
from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration

SALT = "pepper"


@pytest.mark.parametrize("fast_path", [True, False], ids=["batch", "record"])
def test_postgres_pii_is_hashed_by_the_tap_on_both_paths(project: Project, pg_service: Any, fast_path: bool) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        create_orders(cursor, f'"{schema}".orders')
        cursor.execute(
            f'INSERT INTO "{schema}".orders VALUES (1, 10, %s, 1.00, %s, %s, now(), now()), '
            "(2, 11, 'new', 2.00, 'EUR', NULL, now(), now())",
            ("new", "USD", "raw.buyer@example.com"),
        )
        job = yaml.safe_load((REPO / "jobs" / "acme" / "postgres_orders_to_iceberg.yaml").read_text())
        job["source"]["objects"] = [f"{schema}.orders"]
        job["source"]["fast_path"] = fast_path
        env = {
            "PG_HOST": pg_service.host,
            "PG_PORT": str(pg_service.port),
            "PG_USER": pg_service.user,
            "PG_DATABASE": pg_service.db,
            "PG_PASSWORD": "",
            "DATIVO_HASH_SALT": SALT,
        }
        result = project.dativo("run", "--config", str(project.write_job("orders", job)), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.db_orders")
    emails = {row["order_id"]: row["customer_email"] for row in table.scan().to_arrow().to_pylist()}
    assert emails == {1: hashlib.sha256(SALT.encode() + b"raw.buyer@example.com").hexdigest(), 2: None}
    assert "raw.buyer@example.com" not in result.stderr + result.stdout
