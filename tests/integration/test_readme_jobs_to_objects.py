"""The original README's raw-object job `mysql_customers_to_s3`: MariaDB customers through
`dativo run` into Parquet files with manifests on S3 (SeaweedFS), read back through the manifests;
an incremental run adds exactly the changed rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import yaml

from tests import services
from tests.helpers import objects
from tests.helpers.databases import mariadb_database
from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration


def test_mysql_customers_to_s3_lands_raw_files_with_manifests(project: Project, mariadb_service: Any) -> None:
    sw = services.seaweedfs()
    bucket, prefix = objects.s3_bucket(), objects.unique_prefix("mysql-s3")
    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute(
            "CREATE TABLE customers (customer_id int PRIMARY KEY, email varchar(200), full_name varchar(200), "
            "country char(2), is_active tinyint(1), lifetime_value decimal(14,2), "
            "created_at datetime(6) NOT NULL, updated_at timestamp(6) NOT NULL DEFAULT current_timestamp(6))"
        )
        insert = "INSERT INTO customers VALUES (%s, %s, %s, %s, %s, %s, now(6) - interval 1 day, now(6) - interval %s hour)"
        cursor.execute(insert, (1, "a@x.io", "Ana", "PT", 1, "1.50", 30))
        cursor.execute(insert, (2, None, "Ben", "DE", 0, "123456789012.34", 2))

        job = yaml.safe_load((REPO / "jobs" / "acme" / "mysql_customers_to_s3.yaml").read_text())
        job["target"]["connection"]["s3"]["prefix"] = prefix
        path = project.write_job("mysql_customers_to_s3", job)
        env = {
            "MYSQL_HOST": mariadb_service.host,
            "MYSQL_PORT": str(mariadb_service.port),
            "MYSQL_USER": mariadb_service.user,
            "MYSQL_DATABASE": database,
            "S3_BUCKET": bucket.name,
            "S3_ENDPOINT": sw.s3_endpoint,
            "S3_ACCESS_KEY_ID": sw.access_key,
            "S3_SECRET_ACCESS_KEY": sw.secret_key,
        }
        code, summary, stderr = project.run_json("--config", str(path), env=env)
        assert code == 0, stderr[-3000:]
        root = f"{prefix}/acme/customers"  # <prefix>/<tenant>/<stream>/
        assert summary["streams"][0]["table"] == f"s3://{bucket.name}/{root}/"
        entries = objects.check_manifests_match_objects(bucket, root)
        assert entries and all(
            e["key"].endswith(".parquet.zst") or e["key"].endswith(".parquet") for e in entries
        )
        landed = objects.rows(bucket, root, key="customer_id") or []
        assert [(r["customer_id"], r["country"], r["is_active"], r["lifetime_value"]) for r in landed] == [
            (1, "PT", True, Decimal("1.50")),
            (2, "DE", False, Decimal("123456789012.34")),
        ]
        assert len(landed[0]["email"]) == 64 and landed[1]["email"] is None  # PII hashed by the policy

        cursor.execute("UPDATE customers SET is_active = 1, updated_at = now(6) WHERE customer_id = 2")
        code, _, stderr = project.run_json("--config", str(path), env=env)
        assert code == 0, stderr[-3000:]
        newest = objects.manifests(bucket, root)[-1]
        added = [
            row
            for f in newest["files"]
            for row in objects.read_file(bucket.get(f["key"]), newest["format"], newest["compression"])
        ]
        assert [(r["customer_id"], r["is_active"]) for r in added] == [(2, True)]
