"""The original README's smoke test: every fixture job runs with the fixture secrets."""

from __future__ import annotations

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
    [job] = summary["jobs"]
    # The namespace came from the secrets dir: a secret value, so masked in every output.
    assert job["streams"][0]["table"] == "****.csv_deals"
    assert job["streams"][0]["rows"] == 5000
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table(
        "acme_smoke.csv_deals"
    )
    assert len(table.scan().to_arrow()) == 5000
