"""`dativo validate` of the database jobs runs offline: no server is contacted (CI validates
before services start), and what a schema cannot see is still refused with one line."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration

JOBS = ("postgres_orders_to_iceberg", "mysql_customers_to_iceberg")


def test_validate_database_jobs_offline_and_refuses_two_tables(project: Project) -> None:
    for name in JOBS:
        shutil.copy(REPO / "jobs" / "acme" / f"{name}.yaml", project.root / "jobs")
    env = {"PG_HOST": "no-such-host.invalid", "MYSQL_HOST": "no-such-host.invalid", "MYSQL_PORT": "9"}
    result = project.dativo("validate", "--job-dir", "jobs", env=env)
    assert result.returncode == 0, result.stderr
    assert "2 jobs checked, 0 invalid" in result.stdout + result.stderr

    job = yaml.safe_load((REPO / "jobs" / "acme" / "mysql_customers_to_iceberg.yaml").read_text())
    job["source"]["objects"] = ["customers", "crm.customers"]
    del job["source"]["connection"]["host"]
    path = project.write_job("two", job)
    result = project.dativo("validate", "--config", str(path), env=env)
    assert result.returncode == 2
    assert "source.objects" in result.stderr and "jobs/acme/two.yaml" in result.stderr
