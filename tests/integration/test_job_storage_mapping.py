"""The original job YAML shape (warehouse, connection.s3/azure/rest, branch) on real stores."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from target_iceberg.catalog import open_catalog

from tests import services
from tests.helpers.project import Project

pytestmark = pytest.mark.integration

ROWS = [f"{i},D{i},C,proposal,{i}.50,USD,0.5,false,o@x.io,2024-01-01T00:00:00Z," for i in range(1, 6)]


def _run(project: Project, target: dict[str, Any], secrets: dict[str, str]) -> dict[str, Any]:
    project.write("secrets/acme/store.env", "".join(f"{k}={v}\n" for k, v in secrets.items()))
    project.write_deals("a.csv", ROWS)
    job = project.write_job("deals", project.deals_job(target=target))
    code, summary, stderr = project.run_json("--config", str(job), "--secrets-dir", "secrets")
    assert code == 0, stderr
    for name, value in secrets.items():
        if "KEY" not in name:  # access key ids are identifiers; secrets and credentials are not
            assert value not in stderr and value not in str(summary)
    return summary


def _s3_connection(sw: services.SeaweedFSService, prefix: str) -> dict[str, Any]:
    return {
        "bucket": sw.bucket,
        "prefix": prefix,
        "endpoint": sw.s3_endpoint,
        "region": sw.region,
        "access_key_id": "${S3_KEY}",
        "secret_access_key": "${S3_SECRET}",
    }


def test_s3_bucket_and_prefix_with_embedded_catalog(project: Project, seaweedfs_service) -> None:
    sw = seaweedfs_service
    services.ensure_s3_bucket()
    prefix = f"jobs/{uuid.uuid4().hex[:8]}"
    summary = _run(
        project,
        {"connection": {"s3": _s3_connection(sw, prefix)}},
        {"S3_KEY": sw.access_key, "S3_SECRET": sw.secret_key},
    )
    location = summary["streams"][0]["metadata_location"]
    assert location.startswith(f"s3://{sw.bucket}/{prefix}/acme/csv_deals/metadata/")
    props = {
        "type": "sql",
        "uri": f"sqlite:///{project.root / 'warehouse' / 'catalog.db'}",
        "warehouse": f"s3://{sw.bucket}/{prefix}",
        **sw.s3_props(),
    }
    table = open_catalog({"catalog": props}).load_table("acme.csv_deals")
    assert sorted(table.scan().to_arrow().column("deal_id").to_pylist()) == [1, 2, 3, 4, 5]


def test_rest_catalog_with_oauth2_client_credentials_and_branch(project: Project, seaweedfs_service) -> None:
    sw = seaweedfs_service
    namespace = f"acme_{uuid.uuid4().hex[:8]}"
    target = {
        "namespace": namespace,
        "warehouse": sw.rest_warehouse,
        "branch": "acme",
        "connection": {
            "rest": {"uri": sw.rest_uri, "credential": "${REST_CREDENTIAL}"},
            "s3": {k: v for k, v in _s3_connection(sw, "").items() if k not in ("bucket", "prefix")},
        },
    }
    summary = _run(
        project,
        target,
        {"REST_CREDENTIAL": sw.rest_credential, "S3_KEY": sw.access_key, "S3_SECRET": sw.secret_key},
    )
    assert summary["streams"][0]["table"] == f"{namespace}.csv_deals"
    props = {
        "type": "rest",
        "uri": sw.rest_uri,
        "credential": sw.rest_credential,
        "warehouse": sw.rest_warehouse,
        **sw.s3_props(),
    }
    table = open_catalog({"catalog": props}).load_table(f"{namespace}.csv_deals")
    head = table.snapshot_by_name("acme")
    assert head is not None and head.snapshot_id == summary["streams"][0]["snapshot_id"]
    assert len(table.scan(snapshot_id=head.snapshot_id).to_arrow()) == 5


@pytest.mark.parametrize("credential", ["connection_string", "account_key_and_endpoint"])
def test_azure_blob_with_credentials_from_secrets(project: Project, azurite_service, credential: str) -> None:
    az = azurite_service
    services.ensure_azure_container("lake")
    prefix = f"jobs/{uuid.uuid4().hex[:8]}"
    azure: dict[str, Any] = {"container": "lake", "account_name": az.account, "prefix": prefix}
    if credential == "connection_string":
        azure["connection_string"] = "${AZURE_CONN}"
        secrets = {"AZURE_CONN": az.connection_string}
    else:
        azure |= {"account_key": "${AZURE_ACCOUNT_SECRET}", "endpoint": az.blob_endpoint}
        secrets = {"AZURE_ACCOUNT_SECRET": az.key}
    summary = _run(project, {"connection": {"azure": azure}}, secrets)
    assert summary["streams"][0]["metadata_location"].startswith(
        f"abfs://lake@{az.account}.dfs.core.windows.net/{prefix}/"
    )
    props = {
        "type": "sql",
        "uri": f"sqlite:///{project.root / 'warehouse' / 'catalog.db'}",
        "adls.connection-string": az.connection_string,
        "py-io-impl": "pyiceberg.io.fsspec.FsspecFileIO",
    }
    table = open_catalog({"catalog": props}).load_table("acme.csv_deals")
    assert sorted(table.scan().to_arrow().column("deal_id").to_pylist()) == [1, 2, 3, 4, 5]


def test_postgres_sql_catalog_verbatim(project: Project, pg_service, tmp_path) -> None:
    namespace = f"acme_{uuid.uuid4().hex[:8]}"
    catalog = {"type": "sql", "uri": pg_service.sqlalchemy_uri, "warehouse": (tmp_path / "wh").as_uri()}
    (tmp_path / "wh").mkdir()
    _run(project, {"namespace": namespace, "catalog": catalog}, {})
    table = open_catalog({"catalog": catalog}).load_table(f"{namespace}.csv_deals")
    assert len(table.scan().to_arrow()) == 5
