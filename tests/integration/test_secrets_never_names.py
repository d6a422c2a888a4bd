"""Secrets never become names: a tenant secret, or an environment variable not listed in
``runner.naming_variables``, interpolated into a path, prefix, key, namespace or table name is
exit 2 with one line naming the field, for `dativo validate` and `dativo run`, and nothing is
written; a listed variable and a literal ``${VAR:-default}`` still name things."""

from __future__ import annotations

import pytest
import yaml
from target_iceberg.catalog import open_catalog

from tests.helpers import duckdb_reader
from tests.helpers.project import Project

pytestmark = pytest.mark.integration

ROW = "1,A,A,proposal,10.00,USD,0.5,false,a@example.com,2024-01-01T00:00:00Z,"
TOKEN = "tenant-token-Exfil-8c1d2e"
OTHER_PASSWORD = "globex-db-pw-Q7x2"


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("dativo: error:")]


def _objects_job(project: Project, prefix: str) -> dict[str, object]:
    connection = {
        "s3": {
            "bucket": "lake",
            "prefix": prefix,
            "endpoint": "http://127.0.0.1:9",
            "access_key_id": "key-id-for-test",
            "secret_access_key": "${S3_SECRET}",
        }
    }
    return project.deals_job(
        target_connector="s3",
        target_connector_path="connectors/targets/s3.yaml",
        target={"connection": connection},
    )


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_tenant_secret_in_an_object_prefix_is_refused(project: Project, command: str) -> None:
    project.write("secrets/acme/app.env", f"TENANT_TOKEN={TOKEN}\nS3_SECRET=store-secret-123\n")
    project.write_deals("a.csv", [ROW])
    job = project.write_job("exfil", _objects_job(project, "exfil/${TENANT_TOKEN}"))

    result = project.dativo(command, "--config", str(job), "--secrets-dir", "secrets")

    assert result.returncode == 2
    errors = _errors(result.stderr)
    assert len(errors) == 1, result.stderr
    assert "target.connection.s3.prefix: 'exfil/****' would put ${TENANT_TOKEN}, a tenant secret" in errors[0]
    assert TOKEN not in result.stdout + result.stderr
    assert project.files_under("state") == [] and project.files_under("dead_letter") == []


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ({"namespace": "acme_${GLOBEX_DB_PASSWORD}"}, "target.namespace"),
        ({"table": "t_${GLOBEX_DB_PASSWORD}"}, "target.table"),
    ],
)
def test_another_tenants_password_from_the_environment_never_names_a_table(
    project: Project, target: dict[str, str], field: str
) -> None:
    project.write_deals("a.csv", [ROW])
    job = project.write_job("exfil", project.deals_job(target=target))

    result = project.dativo("run", "--config", str(job), env={"GLOBEX_DB_PASSWORD": OTHER_PASSWORD})

    assert result.returncode == 2
    errors = _errors(result.stderr)
    assert len(errors) == 1 and f"{field}: " in errors[0], result.stderr
    assert "${GLOBEX_DB_PASSWORD}, an environment variable named as a secret" in errors[0]
    assert OTHER_PASSWORD not in result.stdout + result.stderr
    assert project.files_under("warehouse") == []


def test_a_source_path_from_an_unlisted_variable_is_refused_and_a_listed_one_names(project: Project) -> None:
    project.write_deals("a.csv", [ROW])
    source = {"objects": ["deals"], "files": [{"path": "data/${DEALS_DIR}/*.csv"}]}
    job = project.write_job("deals", project.deals_job(source=source, target={"table": "deals_${REGION}"}))
    env = {"DEALS_DIR": "deals", "REGION": "eu"}

    refused = project.dativo("validate", "--config", str(job), env=env)

    assert refused.returncode == 2
    errors = _errors(refused.stderr)
    assert len(errors) == 2, refused.stderr  # every problem of the file, one line each
    assert (
        "source.files[0].path: 'data/${DEALS_DIR}/*.csv' would put ${DEALS_DIR}, an environment " in errors[0]
    )
    assert "not listed in runner.naming_variables" in errors[0]
    assert "target.table: 'deals_${REGION}' would put ${REGION}" in errors[1]

    runner = yaml.safe_load((project.root / "configs/runner.yaml").read_text())
    runner["runner"]["naming_variables"] = ["DEALS_DIR", "REGION"]
    project.write("configs/runner.yaml", yaml.safe_dump(runner))
    ran = project.dativo("run", "--config", str(job), env=env)

    assert ran.returncode == 0, ran.stderr
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.deals_eu")
    assert duckdb_reader.scan(table.metadata_location, "SELECT deal_id FROM t") == [(1,)]


def test_a_variable_named_as_a_secret_cannot_be_listed_for_naming(project: Project) -> None:
    runner = yaml.safe_load((project.root / "configs/runner.yaml").read_text())
    runner["runner"]["naming_variables"] = ["GLOBEX_DB_PASSWORD"]
    project.write("configs/runner.yaml", yaml.safe_dump(runner))
    project.write_deals("a.csv", [ROW])
    job = project.write_job("exfil", project.deals_job(target={"table": "t_${GLOBEX_DB_PASSWORD}"}))

    result = project.dativo("validate", "--config", str(job), env={"GLOBEX_DB_PASSWORD": OTHER_PASSWORD})

    assert result.returncode == 2
    assert len(_errors(result.stderr)) == 1 and "target.table: " in result.stderr
    assert OTHER_PASSWORD not in result.stdout + result.stderr


def test_an_unset_variable_with_a_literal_default_still_names(project: Project) -> None:
    project.write_deals("a.csv", [ROW])
    job = project.write_job(
        "deals", project.deals_job(target={"namespace": "${SMOKE_NAMESPACE:-acme_smoke}"})
    )

    result = project.dativo("run", "--config", str(job))

    assert result.returncode == 0, result.stderr
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table(
        "acme_smoke.csv_deals"
    )
    assert duckdb_reader.scan(table.metadata_location, "SELECT deal_id FROM t") == [(1,)]
