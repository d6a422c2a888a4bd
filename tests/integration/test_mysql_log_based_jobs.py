"""`dativo run` of a MariaDB job with ``source.incremental.strategy: log_based``: the first run
lands the snapshot, later runs the binlog's changes (updates, deletes, a key change) with the
PII columns hashed as on any path; the summary shows the binlog lag; a rerun with an empty state
folder resumes from the bookmark committed with the table; after `dativo state reset` a new
snapshot replaces the table (past a change the binlog cannot show); bad settings are one line, exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from target_iceberg.catalog import open_catalog

from tests.helpers.databases import mariadb_database
from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration


def _job(project: Project, **incremental: Any) -> Path:
    job = yaml.safe_load((REPO / "jobs" / "acme" / "mysql_customers_to_iceberg.yaml").read_text())
    job["source"]["incremental"] = {"strategy": "log_based", **incremental}
    return project.write_job("customers_cdc", job)


def _env(service: Any, database: str) -> dict[str, str]:
    return {
        "MYSQL_HOST": service.host,
        "MYSQL_PORT": str(service.port),
        "MYSQL_USER": service.user,
        "MYSQL_DATABASE": database,
        "MYSQL_PASSWORD": "",
    }


def _lake(project: Project) -> dict[int, tuple[Any, ...]]:
    catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
    rows = catalog.load_table("acme.db_customers").scan().to_arrow().to_pylist()
    return {r["customer_id"]: (r["country"], str(r["lifetime_value"]), r["email"]) for r in rows}


def test_log_based_job_runs_snapshot_then_changes(project: Project, mariadb_service: Any) -> None:
    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute(
            "CREATE TABLE customers (customer_id int PRIMARY KEY, email varchar(200), full_name varchar(200), "
            "country char(2), is_active tinyint(1), lifetime_value decimal(14,2), "
            "created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL)"
        )
        insert = "INSERT INTO customers VALUES (%s, %s, 'N', %s, 1, %s, now(6), now(6))"
        for row in [(1, "a@x.io", "PT", "1.50"), (2, "b@x.io", "DE", "2.00"), (3, "c@x.io", "FR", "3.00")]:
            cursor.execute(insert, row)
        job, env = _job(project), _env(mariadb_service, database)

        code, summary, stderr = project.run_json("--config", str(job), env=env)
        assert code == 0, stderr[-3000:]
        lake = _lake(project)
        assert {k: v[:2] for k, v in lake.items()} == {
            1: ("PT", "1.50"),
            2: ("DE", "2.00"),
            3: ("FR", "3.00"),
        }
        assert all(v[2] and "@" not in v[2] for v in lake.values())  # PII hashed in the snapshot

        cursor.execute("UPDATE customers SET lifetime_value = 9.99 WHERE customer_id = 2")
        cursor.execute("UPDATE customers SET customer_id = 30 WHERE customer_id = 3")
        cursor.execute("DELETE FROM customers WHERE customer_id = 1")
        cursor.execute(insert, (4, "d@x.io", "ES", "4.00"))
        code, summary, stderr = project.run_json("--config", str(job), env=env)
        assert code == 0, stderr[-3000:]
        lake = _lake(project)
        assert {k: v[:2] for k, v in lake.items()} == {
            2: ("DE", "9.99"),
            30: ("FR", "3.00"),
            4: ("ES", "4.00"),
        }
        assert lake[4][2] and "@" not in lake[4][2]  # PII hashed in the changes too
        (stream,) = summary["streams"]
        metrics = stream["source_metrics"]
        assert metrics["binlog_lag_bytes"] >= 0 and metrics["binlog_retained_bytes"] > 0

        # An empty state folder: the bookmark committed with the table is the truth.
        state_file = project.root / "state" / "acme" / "customers_cdc.json"
        assert "log_position" in state_file.read_text()
        state_file.unlink()
        cursor.execute("UPDATE customers SET country = 'IT' WHERE customer_id = 4")
        code, _, stderr = project.run_json("--config", str(job), env=env)
        assert code == 0, stderr[-3000:]
        assert {k: v[:2] for k, v in _lake(project).items()} == {
            2: ("DE", "9.99"),
            30: ("FR", "3.00"),
            4: ("IT", "4.00"),
        }

        # A change logged as a statement stops the binlog read; after `state reset` a new snapshot
        # (taken after it) replaces the table.
        cursor.execute("SET SESSION binlog_format = 'STATEMENT'")
        cursor.execute("DELETE FROM customers WHERE customer_id = 30")
        cursor.execute("SET SESSION binlog_format = 'ROW'")
        code, _, stderr = project.run_json("--config", str(job), env=env)
        assert code == 2 and "logged as a statement" in stderr
        reset = project.dativo("state", "reset", "--config", str(job), "--force", env=env)
        assert reset.returncode == 0, reset.stderr[-3000:]
        code, _, stderr = project.run_json("--config", str(job), env=env)
        assert code == 0, stderr[-3000:]
        assert {k: v[:2] for k, v in _lake(project).items()} == {2: ("DE", "9.99"), 4: ("IT", "4.00")}


def test_log_based_job_validation(project: Project) -> None:
    job = _job(project, cursor_field="updated_at")
    result = project.dativo("validate", "--config", str(job))
    assert result.returncode == 2
    assert "source.incremental.cursor_field" in result.stderr and "log_based" in result.stderr
