"""Storage and catalog services failing mid-run, end to end through `dativo run` of a CSV job
(many small commits, so the fault lands between two of them):

- SeaweedFS (S3 store and Iceberg REST catalog) restarted mid-run: the target retries within
  its service budget and the run completes; stopped for longer than the budget: exit 2 with one
  line naming the catalog, the state file no further than the table, and the rerun completes.
- Azurite restarted mid-run under target-objects (Azure Blob) and under Iceberg on Azure.
- PostgreSQL as the Iceberg SQL catalog dropping the target's connections
  (``pg_terminate_backend`` on a database made for the test, on the shared server).

Services that are restarted or stopped are private instances (tests/helpers/private_services.py).
Every case ends with every id in the table exactly once."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pyiceberg.catalog import load_catalog
from target_iceberg.bookmark import latest_bookmark

from tests.helpers.faults import (
    FULL,
    assert_no_duplicates,
    assert_once,
    finish,
    full_only,
    report,
    start_run,
    wait_for_commit,
    write_deals,
)
from tests.helpers.private_services import PrivateServices, private_services
from tests.helpers.project import Project

pytestmark = [pytest.mark.integration, pytest.mark.faults]

# 18,000 rows in commits of 500 (6,000 in `make test`): a run of several seconds.
FILES, ROWS = (12, 1_500) if FULL else (8, 2_000)
BATCH = {"rows": 250}  # many commits: the faults land while the run commits, however fast the machine
SHORT_BUDGET = {"DATIVO_SERVICE_RETRY_SECONDS": "4", "DATIVO_SERVICE_MAX_TRIES": "4"}


class IcebergJob:
    """The CSV deals job into an Iceberg table through the given catalog properties."""

    def __init__(self, project: Project, catalog: dict[str, str]) -> None:
        self.project, self.catalog = project, catalog
        self.namespace = f"acme_faults_{uuid.uuid4().hex[:8]}"  # a job writes only its tenant's namespaces
        self.expected = write_deals(project, FILES, ROWS)
        job = project.deals_job(target={"catalog": catalog, "namespace": self.namespace, "batch": BATCH})
        self.job = project.write_job("deals", job)
        self.state = project.root / "state" / "acme" / "deals.json"

    def ids(self) -> list[int]:
        table = load_catalog("dativo", **self.catalog).load_table(f"{self.namespace}.csv_deals")
        return table.scan(selected_fields=("deal_id",)).to_arrow().column("deal_id").to_pylist()

    def committed_bookmark(self) -> dict[str, Any] | None:
        table = load_catalog("dativo", **self.catalog).load_table(f"{self.namespace}.csv_deals")
        found = latest_bookmark(table)
        return json.loads(found[0]) if found else None

    def saved_state(self) -> dict[str, Any] | None:
        return json.loads(self.state.read_text()) if self.state.exists() else None


def _rest_catalog(seaweed: Any) -> dict[str, str]:
    return {
        "type": "rest",
        "uri": seaweed.rest_uri,
        "credential": seaweed.rest_credential,
        "warehouse": seaweed.rest_warehouse,
        **seaweed.s3_props(),
    }


@pytest.fixture(scope="module")
def private_seaweedfs() -> Iterator[PrivateServices]:
    with private_services("seaweedfs") as instance:
        yield instance


@pytest.fixture(scope="module")
def private_azurite() -> Iterator[PrivateServices]:
    with private_services("azurite") as instance:
        yield instance


@full_only
def test_seaweedfs_restarted_mid_run_the_run_completes(project: Project, private_seaweedfs: PrivateServices) -> None:
    job = IcebergJob(project, _rest_catalog(private_seaweedfs.info("seaweedfs")))
    run = start_run(project, job.job)
    wait_for_commit(run, job.state)

    down = private_seaweedfs.restart("seaweedfs")

    outcome = finish(run)
    assert outcome.code == 0, outcome.stderr[-3000:]
    assert outcome.retries >= 1, "the restart went unnoticed: no retry was logged"
    assert_once(job.ids(), job.expected)
    assert job.saved_state() == job.committed_bookmark()
    report("seaweedfs restarted", down_seconds=round(down, 1), retries=outcome.retries, exit=0,
           rows=len(job.expected))


@full_only
def test_seaweedfs_stopped_past_the_budget_is_exit_2_then_the_rerun_completes(
    project: Project, private_seaweedfs: PrivateServices
) -> None:
    seaweed = private_seaweedfs.info("seaweedfs")
    job = IcebergJob(project, _rest_catalog(seaweed))
    run = start_run(project, job.job, env=SHORT_BUDGET)
    wait_for_commit(run, job.state)

    private_seaweedfs.stop("seaweedfs")
    try:
        outcome = finish(run)
    finally:
        private_seaweedfs.start("seaweedfs")

    assert outcome.code == 2, outcome.stderr[-3000:]
    error = outcome.summary["error"]
    assert f"127.0.0.1:{seaweed.rest_port}" in error or f"127.0.0.1:{seaweed.s3_port}" in error, error
    assert "unreachable" in error and outcome.summary["retriable"] is True, error
    assert "Traceback" not in outcome.stderr
    assert job.saved_state() == job.committed_bookmark()  # the state file no further than the table
    assert_no_duplicates(job.ids())

    rerun = finish(start_run(project, job.job))
    assert rerun.code == 0, rerun.stderr[-3000:]
    assert_once(job.ids(), job.expected)
    report("seaweedfs stopped past the budget", retries=outcome.retries, exit=2, rerun_exit=0,
           rows=len(job.expected))


def _terminate(dsn: str, database: str) -> int:
    """``pg_terminate_backend`` on every connection to ``database`` but this one; how many."""
    import psycopg2

    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )
        row = cursor.fetchone()
    connection.close()
    return int(row[0]) if row else 0


@pytest.fixture
def catalog_database(pg_service: Any) -> Iterator[str]:
    """A database on the shared PostgreSQL made for this test (its connections are the only
    ones terminated), dropped afterwards."""
    import psycopg2

    name = f"faults_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(pg_service.dsn)
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        _terminate(pg_service.dsn, name)
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def test_postgres_catalog_dropping_connections_the_run_completes(
    project: Project, pg_service: Any, catalog_database: str
) -> None:
    uri = f"postgresql+psycopg2://{pg_service.user}@{pg_service.host}:{pg_service.port}/{catalog_database}"
    warehouse = (project.root / "lake").as_uri()
    job = IcebergJob(project, {"type": "sql", "uri": uri, "warehouse": warehouse})
    run = start_run(project, job.job)
    wait_for_commit(run, job.state)

    terminated = 0
    for _ in range(3):  # three times, a little apart, while the run commits
        terminated += _terminate(pg_service.dsn, catalog_database)
        time.sleep(0.7)

    outcome = finish(run)
    assert terminated >= 1
    assert outcome.code == 0, outcome.stderr[-3000:]
    assert_once(job.ids(), job.expected)
    assert job.saved_state() == job.committed_bookmark()
    report("postgres catalog connections terminated", terminated=terminated, retries=outcome.retries,
           exit=0, rows=len(job.expected))


def _azure_iceberg_catalog(project: Project, azurite: Any) -> dict[str, str]:
    container = f"faults{uuid.uuid4().hex[:8]}"
    _container(azurite, container)
    return {
        "type": "sql",
        "uri": f"sqlite:///{project.root / 'catalog.db'}",
        "warehouse": azurite.abfs_url(container, "wh"),
        "adls.connection-string": azurite.connection_string,
        "py-io-impl": "pyiceberg.io.fsspec.FsspecFileIO",
    }


def _container(azurite: Any, name: str) -> None:
    from azure.storage.blob import BlobServiceClient

    BlobServiceClient.from_connection_string(azurite.connection_string).create_container(name)


@full_only
def test_azurite_restarted_under_iceberg_on_azure_the_run_completes(
    project: Project, private_azurite: PrivateServices
) -> None:
    job = IcebergJob(project, _azure_iceberg_catalog(project, private_azurite.info("azurite")))
    run = start_run(project, job.job)
    wait_for_commit(run, job.state)

    down = private_azurite.restart("azurite")

    outcome = finish(run)
    assert outcome.code == 0, outcome.stderr[-3000:]
    assert_once(job.ids(), job.expected)
    assert job.saved_state() == job.committed_bookmark()
    report("azurite restarted (iceberg)", down_seconds=round(down, 1), retries=outcome.retries, exit=0,
           rows=len(job.expected))


def _object_ids(azurite: Any, container: str, prefix: str) -> list[int]:
    """deal_id of every row the manifests name (readers never list data folders)."""
    import io

    import pyarrow.parquet as pq
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(container)
    ids: list[int] = []
    manifests = sorted(b.name for b in client.list_blobs(name_starts_with=prefix) if "_manifests/" in b.name)
    for name in manifests:
        manifest = json.loads(client.download_blob(name).readall())
        for file in manifest["files"]:
            data = client.download_blob(file["key"]).readall()
            ids += pq.read_table(io.BytesIO(data), columns=["deal_id"]).column("deal_id").to_pylist()
    return ids


@full_only
def test_azurite_restarted_under_target_objects_the_run_completes(
    project: Project, private_azurite: PrivateServices
) -> None:
    azurite = private_azurite.info("azurite")
    container = f"faults{uuid.uuid4().hex[:8]}"
    _container(azurite, container)
    expected = write_deals(project, FILES, ROWS)
    target = {
        "format": "parquet",
        "batch": BATCH,
        "connection": {
            "azure": {"container": container, "prefix": "raw", "connection_string": azurite.connection_string}
        },
    }
    job_file = project.write_job(
        "deals",
        project.deals_job(
            target_connector="azure_blob", target_connector_path="connectors/targets/azure_blob.yaml", target=target
        ),
    )
    state = project.root / "state" / "acme" / "deals.json"
    run = start_run(project, job_file)
    wait_for_commit(run, state)

    down = private_azurite.restart("azurite")

    outcome = finish(run)
    assert outcome.code == 0, outcome.stderr[-3000:]
    assert_once(_object_ids(azurite, container, "raw/"), expected)
    report("azurite restarted (target-objects)", down_seconds=round(down, 1), retries=outcome.retries,
           exit=0, rows=len(expected))

