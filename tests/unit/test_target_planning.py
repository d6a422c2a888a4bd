"""How the original job YAML shape maps to target-iceberg config."""

from __future__ import annotations

from pathlib import Path

import pytest

from dativo_runner.home import ProjectHome
from dativo_runner.job_config import load_job_config
from tests.helpers.project import Project


@pytest.fixture
def job_with_target(tmp_path: Path):
    project = Project.create(tmp_path / "home")
    project.write_deals("a.csv", ["1,A,A,s,1.00,USD,0.5,false,a@x.io,2024-01-01T00:00:00Z,"])

    def load(target: dict) -> dict:
        path = project.write_job("j", project.deals_job(target=target))
        job = load_job_config(path, ProjectHome(project.root))
        return job.target_plugin.plan_config(job)

    return load


def test_nessie_native_uri_becomes_its_iceberg_rest_endpoint(job_with_target) -> None:
    config = job_with_target(
        {
            "branch": "acme",
            "warehouse": "s3://lake/acme/",
            "connection": {
                "nessie": {"uri": "http://nessie.acme.internal:19120/api/v1"},
                "s3": {"bucket": "acme-data-lake", "prefix": "raw/stripe/customers"},
            },
        }
    )
    assert config["catalog"] == {
        "type": "rest",
        "uri": "http://nessie.acme.internal:19120/iceberg",
        "warehouse": "s3://lake/acme/",
    }
    assert config["branch"] == "acme"


def test_s3_bucket_and_prefix_make_the_warehouse(job_with_target) -> None:
    config = job_with_target(
        {"connection": {"s3": {"bucket": "b", "prefix": "/raw/x/", "region": "eu-west-1"}}}
    )
    assert config["catalog"]["warehouse"] == "s3://b/raw/x"
    assert config["catalog"]["type"] == "sql" and config["catalog"]["s3.region"] == "eu-west-1"


def test_asset_and_policy_drive_table_settings(job_with_target, monkeypatch) -> None:
    monkeypatch.delenv("DATIVO_HASH_SALT", raising=False)
    config = job_with_target({"write_mode": "merge", "batch": {"rows": 1000, "seconds": 30}})
    assert config["write_mode"] == "merge"
    assert config["batch_size_rows"] == 1000 and config["batch_seconds"] == 30
    assert config["schema_mode"] == "strict" and config["partitioning"] == ["ingest_date"]
    assert config["column_policies"] == {"owner_email": "hash"}
    assert config["column_docs"]["owner_email"] == "classification: PII; policy: hash"
    assert config["table_properties"]["owner"] == "data-team@example.com"
    assert config["table_properties"]["dativo.retention-days"] == "365"
    assert config["hash_salt"] == "dativo:acme"  # no salt configured: the tenant's default


def test_hash_salt_comes_from_the_environment(job_with_target, monkeypatch) -> None:
    monkeypatch.setenv("DATIVO_HASH_SALT", "pepper-from-env")
    assert job_with_target({})["hash_salt"] == "pepper-from-env"
