"""Internal functions a first look at the project checks (the original README's
`pytest tests/test_*.py -v`): every job, asset and recipe of the repo loads and validates in
process, as `dativo validate` would load them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dativo_runner.home import ProjectHome
from dativo_runner.job_config import load_job_config
from dativo_runner.yaml_io import load_yaml

REPO = Path(__file__).resolve().parents[1]
JOBS = sorted((REPO / "jobs").glob("*/*.yaml"))


@pytest.mark.parametrize("path", JOBS, ids=[p.stem for p in JOBS])
def test_every_example_job_loads_with_its_connectors_and_asset(path: Path) -> None:
    job = load_job_config(path, ProjectHome(REPO), secrets_dir=REPO / "tests" / "fixtures" / "secrets")
    assert job.tenant_id == path.parent.name
    assert job.asset.name and job.asset.fields and job.asset.json_schema()["properties"]
    assert job.source_entry.executable.startswith("tap-")
    assert job.target_entry.executable.startswith("target-")


def test_every_asset_and_recipe_is_a_yaml_mapping() -> None:
    files = [*(REPO / "assets").rglob("*.yaml"), *(REPO / "connectors").rglob("*.yaml")]
    assert len(files) > 10
    for path in files:
        assert load_yaml(path), path
