"""Schema validation messages, asset specs and path resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from dativo_runner.assets import json_schema_of_type, load_asset
from dativo_runner.cli.validate import validate_project
from dativo_runner.errors import ConfigError
from dativo_runner.home import ProjectHome
from dativo_runner.schema_validation import validate_document, validate_job_block
from dativo_runner.state_store import StateStore

REPO = Path(__file__).resolve().parents[2]


def test_every_yaml_file_of_the_repo_is_valid() -> None:
    count, problems = validate_project(ProjectHome(REPO))
    assert problems == []
    assert count >= 5


def test_job_schema_messages_name_the_field() -> None:
    job = {
        "tenant_id": "acme",
        "source_connector": "csv",
        "target_connector": "iceberg",
        "asset": "x",
        "target": {"batch": {"rows": 0}},
        "loggin": {},
    }
    messages = [str(p) for p in validate_document("job", job, "j.yaml")]
    assert "j.yaml: unknown key 'loggin' (did you mean 'logging'?)" in messages
    block = validate_job_block("target", "targets/iceberg", job["target"], "j.yaml")
    assert [str(p) for p in block] == ["j.yaml: target.batch.rows: 0 is less than the minimum of 1"]


def test_asset_types_map_to_singer_json_schema() -> None:
    assert json_schema_of_type("timestamp") == {"type": "string", "format": "date-time"}
    assert json_schema_of_type("decimal(12,2)") == {
        "type": "number",
        "multipleOf": 0.01,
        "maximum": 9999999999.99,
    }
    assert json_schema_of_type("long") == {"type": "integer"}


def test_asset_problems_are_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        "asset:\n  name: a\n  source_type: csv\n  object: o\n  version: '1'\n  primary_key: [nope]\n"
        "  schema:\n    - {name: x, type: string}\n    - name: x\n      type: decimal(2,5)\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_asset(path, "a.yaml")
    text = str(caught.value)
    assert "field 'x' is declared twice" in text
    assert "'nope' is not a schema field" in text
    assert "decimal(2,5) needs scale <= precision" in text


def test_container_paths_map_to_the_project_home(tmp_path: Path) -> None:
    home = ProjectHome(tmp_path)
    assert home.resolve("/app/assets/x.yaml") == tmp_path / "assets/x.yaml"
    assert home.resolve("jobs/a.yaml") == tmp_path / "jobs/a.yaml"


def test_state_is_replaced_atomically(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "acme" / "job.json")
    assert store.load() is None
    store.save({"bookmarks": {"s": {"v": 1}}})
    store.save({"bookmarks": {"s": {"v": 2}}})
    assert store.load() == {"bookmarks": {"s": {"v": 2}}}
    assert [p.name for p in (tmp_path / "acme").iterdir()] == ["job.json"]
    assert (store.path.stat().st_mode & 0o777) == 0o600
