"""A known secret, used by a job, appears nowhere: not in stdout, stderr, state or summaries."""

from __future__ import annotations

import pytest

from tests.helpers.project import Project

pytestmark = pytest.mark.integration

SECRET = "sk_live_Zx9TopSecretValue42"
ROW = "1,A - X,A,proposal,10.00,USD,0.5,false,a@example.com,2024-01-01T00:00:00Z,"


def _catalog(project: Project, uri: str | None = None) -> dict[str, str]:
    warehouse = project.root / "warehouse"
    warehouse.mkdir(exist_ok=True)
    return {
        "type": "sql",
        "uri": uri or f"sqlite:///{warehouse}/catalog.db",
        "warehouse": warehouse.as_uri(),
        "s3.secret-access-key": "${WAREHOUSE_SECRET}",
    }


def _all_written_text(project: Project) -> str:
    texts = []
    for folder in ("state", "warehouse"):
        for path in project.files_under(folder):
            if path.suffix in (".json", ".db", ".avro", ".parquet"):
                texts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(texts)


def test_secret_from_secrets_dir_is_never_printed_or_stored(project: Project) -> None:
    project.write("secrets/acme/warehouse.env", f"WAREHOUSE_SECRET={SECRET}\n")
    project.write_deals("a.csv", [ROW])
    job = project.write_job("deals", project.deals_job(target={"catalog": _catalog(project)}))

    for extra in ([], ["--json"], ["--verbose"]):
        result = project.dativo("run", "--config", str(job), "--secrets-dir", "secrets", *extra)
        assert result.returncode == 0, result.stderr
        assert SECRET not in result.stdout
        assert SECRET not in result.stderr
    assert project.files_under("state"), "the run should have written state"
    assert SECRET not in _all_written_text(project)


def test_secret_in_a_failing_service_error_is_masked(project: Project) -> None:
    project.write("secrets/acme/warehouse.json", f'{{"WAREHOUSE_SECRET": "{SECRET}"}}')
    project.write_deals("a.csv", [ROW])
    catalog = {
        "type": "rest",
        "uri": "http://127.0.0.1:9/catalog",
        "credential": "client:${WAREHOUSE_SECRET}",
    }
    job = project.write_job("deals", project.deals_job(target={"catalog": catalog}))

    result = project.dativo("run", "--config", str(job), "--secrets-dir", "secrets", "--verbose")

    assert result.returncode == 2
    assert "cannot open Iceberg catalog" in result.stderr
    assert SECRET not in result.stdout
    assert SECRET not in result.stderr
    assert project.files_under("state") == []


def test_secret_from_environment_with_secret_like_name_is_masked(project: Project) -> None:
    project.write_deals("a.csv", [ROW])
    job = project.deals_job(
        target={
            "catalog": _catalog(
                project, uri="postgresql+psycopg2://dativo:${DB_PASSWORD}@127.0.0.1:9/nowhere"
            )
        }
    )
    path = project.write_job("deals", job)
    result = project.dativo(
        "run",
        "--config",
        str(path),
        "--verbose",
        env={"DB_PASSWORD": SECRET, "WAREHOUSE_SECRET": "x"},
    )
    assert SECRET not in result.stdout
    assert SECRET not in result.stderr
    assert result.returncode == 2
    assert "cannot open Iceberg catalog" in result.stderr


@pytest.mark.parametrize("source", ["secrets-dir", "environment"])
def test_a_secret_inside_an_error_message_is_masked(project: Project, source: str) -> None:
    # The secret is part of a path that does not exist: the error line quotes that path.
    job = project.deals_job(source={"objects": ["deals"], "files": [{"path": "data/${API_TOKEN}/*.csv"}]})
    path = project.write_job("deals", job)
    args = ["run", "--config", str(path)]
    env = {}
    if source == "secrets-dir":
        project.write("secrets/acme/api.env", f"API_TOKEN={SECRET}\n")
        args += ["--secrets-dir", "secrets"]
    else:
        env["API_TOKEN"] = SECRET
    result = project.dativo(*args, env=env)

    assert result.returncode == 2
    assert "source.files[0].path: no file matches 'data/****/*.csv'" in result.stderr
    assert SECRET not in result.stdout + result.stderr
