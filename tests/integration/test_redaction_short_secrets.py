"""Redaction that cannot garble: a secret shorter than the safe length (the local S3 key id
``dativo``) is masked where it stands as a value, never inside ordinary words or the program
name (``dativo: error: ...`` stayed ``****: error: ...`` before); long secrets are masked
everywhere, as before."""

from __future__ import annotations

import pytest

from tests.helpers.project import Project

pytestmark = pytest.mark.integration

ROW = "1,A,A,proposal,10.00,USD,0.5,false,a@example.com,2024-01-01T00:00:00Z,"
LONG_SECRET = "s3-secret-value-long-7731"


def _objects_job(project: Project, **target: object) -> None:
    connection = {
        "s3": {
            "bucket": "lake",
            "endpoint": "http://127.0.0.1:9",
            "access_key_id": "${S3_KEY_ID}",
            "secret_access_key": "${S3_SECRET}",
        }
    }
    job = project.deals_job(
        target_connector="s3",
        target_connector_path="connectors/targets/s3.yaml",
        target={"connection": connection, **target},
    )
    project.write_job("deals", job)


def test_a_short_key_id_never_masks_the_program_name(project: Project) -> None:
    project.write("secrets/acme/store.env", f"S3_KEY_ID=dativo\nS3_SECRET={LONG_SECRET}\n")
    project.write_deals("a.csv", [ROW])
    _objects_job(project)

    result = project.dativo("run", "--config", "jobs/acme/deals.yaml", "--secrets-dir", "secrets")

    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("dativo: error: jobs/acme/deals.yaml: "), errors[0]
    assert "S3 endpoint http://127.0.0.1:9 unreachable" in errors[0]
    assert "****: error" not in result.stderr
    assert LONG_SECRET not in result.stdout + result.stderr


def test_a_short_secret_standing_as_a_value_is_still_masked(project: Project) -> None:
    project.write("secrets/acme/store.env", f"S3_KEY_ID=dativo\nS3_SECRET={LONG_SECRET}\nMODE=dativo\n")
    project.write_deals("a.csv", [ROW])
    _objects_job(project, format="${MODE}")

    result = project.dativo("validate", "--config", "jobs/acme/deals.yaml", "--secrets-dir", "secrets")

    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("dativo: error:")]
    assert len(errors) == 1, result.stderr
    assert "target.format: '****' is not one of" in errors[0], errors[0]
    assert "'dativo'" not in result.stderr
