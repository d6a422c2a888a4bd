"""The original README's smoke test: every fixture job runs with the fixture secrets."""

from __future__ import annotations

import hashlib
import shutil

import pytest
from target_iceberg.catalog import open_catalog

from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration


def test_fixture_jobs_run_with_fixture_secrets(project: Project) -> None:
    shutil.copytree(REPO / "data", project.root / "data", dirs_exist_ok=True)
    shutil.copytree(REPO / "tests" / "fixtures", project.root / "tests" / "fixtures")

    code, summary, stderr = project.run_json(
        "--job-dir", "tests/fixtures/jobs", "--secrets-dir", "tests/fixtures/secrets"
    )

    assert code == 0, stderr
    assert "salt" not in stderr  # the policy's salt came from the secrets folder: no warning
    [job] = summary["jobs"]
    assert job["streams"][0]["table"] == "acme_smoke.csv_deals"
    assert job["streams"][0]["rows"] == 5000
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table(
        "acme_smoke.csv_deals"
    )
    owners = {r["deal_id"]: r["owner_email"] for r in table.scan().to_arrow().to_pylist()}
    assert len(owners) == 5000
    # Deal 1's owner (see data/deals/deals_2024.csv), hashed with the tenant's secret salt.
    assert owners[1] == hashlib.sha256(b"smoke-test-salt-3f9a" + b"ben.okafor@example.com").hexdigest()
