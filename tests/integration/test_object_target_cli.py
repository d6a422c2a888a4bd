"""CSV jobs to the s3, minio and azure_blob targets (target-objects) through the `dativo` CLI:
run, show, a fresh state folder resuming from the newest manifest, maintain on a killed run's
file, offline validate, an unreachable endpoint."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests import services
from tests.helpers import objects
from tests.helpers.project import Project

pytestmark = pytest.mark.integration

DEALS = [
    f"{i},D{i},C{i},proposal,{i}.50,USD,0.5,false,o{i}@x.io,2024-01-0{i}T00:00:00Z," for i in range(1, 6)
]


def _deals_job(
    project: Project, connector: str, connection: dict[str, Any], name: str = "", **target: Any
) -> Path:
    job = project.deals_job(
        target_connector=connector,
        target_connector_path=f"connectors/targets/{connector}.yaml",
        target={"connection": connection, **target},
    )
    return project.write_job(name or f"deals_to_{connector}", job)


def _s3_connection(prefix: str) -> dict[str, Any]:
    sw = services.seaweedfs()
    return {
        "s3": {
            "bucket": objects.s3_bucket().name,
            "prefix": prefix,
            "endpoint": sw.s3_endpoint,
            "region": sw.region,
            "access_key_id": sw.access_key,
            "secret_access_key": "${S3_SECRET}",
        }
    }


def test_csv_job_to_s3_run_show_rerun_and_maintain(project: Project) -> None:
    sw = services.seaweedfs()
    # The key id is not a secret (the local one, "dativo", would be masked in every log line).
    project.write("secrets/acme/store.env", f"S3_SECRET={sw.secret_key}\n")
    project.write_deals("a.csv", DEALS)
    prefix = objects.unique_prefix("e2e")
    job = _deals_job(project, "s3", _s3_connection(prefix))
    secrets = ("--secrets-dir", "secrets")
    code, summary, stderr = project.run_json("--config", str(job), *secrets)
    assert code == 0, stderr
    bucket, root = objects.s3_bucket(), f"{prefix}/acme/deals"
    stream = summary["streams"][0]
    assert (stream["rows"], stream["table"]) == (5, f"s3://{bucket.name}/{root}/")
    entries = objects.check_manifests_match_objects(bucket, root)
    assert entries[0]["key"].endswith(".parquet")  # the asset's target.file_format
    landed = objects.rows(bucket, root, key="deal_id") or []
    assert [r["deal_id"] for r in landed] == [1, 2, 3, 4, 5]
    assert landed[0]["amount"] == Decimal("1.50") and len(landed[0]["owner_email"]) == 64  # PII hashed
    metadata = bucket.metadata(entries[0]["key"])
    assert metadata["dativo_owner"] == "data-team@example.com" and metadata["dativo_classification"] == "PII"
    assert metadata["dativo_tags"] == "sales,crm" and metadata["dativo_tenant"] == "acme"

    shown = project.dativo("show", "--config", str(job), *secrets, "--limit", "2")
    assert shown.returncode == 0, shown.stderr
    assert f"s3://{bucket.name}/{root}/: 5 rows in 1 files, 1 commits" in shown.stdout
    assert "deal_id=1" in shown.stdout and "deal_id=3" not in shown.stdout

    # A fresh state folder: the newest manifest's bookmark is the truth; nothing is read twice.
    code, _, stderr = project.run_json("--config", str(job), *secrets, "--state-dir", "elsewhere")
    assert code == 0, stderr
    assert "resuming from the target's committed bookmark" in stderr
    assert len(objects.check_manifests_match_objects(bucket, root)) == 1

    # A killed run's file, named by no manifest: reported, kept on a dry run, then removed.
    orphan = f"{root}/ingest_date=2024-01-01/20240101T000000Z-dead0000-00001.parquet"
    bucket.put(orphan, b"half a file")
    args = ("--config", str(job), *secrets, "--older-than-hours", "0")
    dry = project.dativo("maintain", *args, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "orphan files: 1 (11 bytes) named by no manifest" in dry.stdout and orphan in dry.stdout
    assert orphan in bucket.keys(root)
    done = project.dativo("maintain", *args, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["deleted"], report["manifests"], report["files"]) == (1, 1, 1)
    assert objects.check_manifests_match_objects(bucket, root) == entries
    everything = shown.stdout + shown.stderr + dry.stdout + dry.stderr + done.stdout + done.stderr + stderr
    assert sw.secret_key not in everything + json.dumps(objects.manifests(bucket, root)) + json.dumps(
        metadata
    )


def test_csv_job_to_azure_blob_as_gzipped_json_lines(project: Project) -> None:
    az = services.azurite()
    container = objects.azure_container()
    project.write("secrets/acme/store.env", f"AZURE_ACCOUNT_SECRET={az.key}\n")
    project.write_deals("a.csv", DEALS)
    prefix = objects.unique_prefix("e2e")
    azure = {
        "container": container.client.container_name,
        "prefix": prefix,
        "account_name": az.account,
        "account_key": "${AZURE_ACCOUNT_SECRET}",
        "endpoint": az.blob_endpoint,
    }
    job = _deals_job(project, "azure_blob", {"azure": azure}, format="jsonl", compression="gzip")
    code, summary, stderr = project.run_json("--config", str(job), "--secrets-dir", "secrets")
    assert code == 0, stderr
    root = f"{prefix}/acme/deals"
    assert summary["streams"][0]["table"] == f"az://{container.client.container_name}/{root}/"
    entries = objects.check_manifests_match_objects(container, root)
    assert entries[0]["key"].endswith(".jsonl.gz")
    landed = objects.rows(container, root, key="deal_id") or []
    assert [(r["deal_id"], r["amount"]) for r in landed] == [(i, Decimal(f"{i}.50")) for i in range(1, 6)]
    assert container.metadata(entries[0]["key"])["dativo_owner"] == "data-team@example.com"
    assert az.key not in stderr + json.dumps(summary) + json.dumps(objects.manifests(container, root))


def test_validate_is_offline_and_refuses_what_the_target_would(project: Project) -> None:
    closed = {
        "s3": {
            "bucket": "lake",
            "endpoint": "http://127.0.0.1:9",
            "access_key_id": "k",
            "secret_access_key": "s3cr3t-value",
        }
    }
    project.write_deals("a.csv", DEALS)
    _deals_job(project, "minio", closed, name="good")
    _deals_job(project, "minio", closed, name="bad_template", key_template="{ingest_date}/{run_id}.{ext}")
    _deals_job(project, "azure_blob", closed, name="wrong_connection")
    result = project.dativo("validate", "--job-dir", "jobs")  # one process: each job is checked
    assert result.returncode == 2 and "3 jobs checked, 2 invalid" in result.stdout
    errors = result.stderr.splitlines()
    assert len(errors) == 3, errors
    assert "bad_template.yaml: target: setting 'key_template' must hold {run_id} and {n}" in errors[0]
    assert "wrong_connection.yaml: target.connection.azure: required by the azure_blob target" in errors[1]
    assert "wrong_connection.yaml: target.connection.s3: not used by the azure_blob target" in errors[2]
    assert "s3cr3t-value" not in result.stdout + result.stderr

    # Run, the endpoint is unreachable: exit 2 with one line saying it may be retried.
    run = project.dativo("run", "--config", "jobs/acme/good.yaml")
    assert run.returncode == 2
    errors = [line for line in run.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "S3 endpoint http://127.0.0.1:9 unreachable" in errors[0], run.stderr
    assert "the run can be retried" in errors[0] and "s3cr3t-value" not in run.stdout + run.stderr
