"""The runner knows connectors through plugins: `validate` refuses exactly what `run` refuses,
each connector's block is checked by its own schema, incremental and logging settings work or
are refused, and errors name the file once."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.helpers.project import Project

pytestmark = pytest.mark.integration

ROW = "1,A,A,proposal,1.00,USD,0.5,false,a@x.io,2024-01-01T00:00:00Z,"


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("dativo: error:")]


def _validate_and_run(project: Project, job: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Error lines of `validate` and of `run` for one job (both must exit 2)."""
    path = project.write_job("j", job)
    checked = project.dativo("validate", "--config", str(path))
    ran = project.dativo("run", "--config", str(path))
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert ran.returncode == 2, ran.stdout + ran.stderr
    return _errors(checked.stderr), _errors(ran.stderr)


def _nothing_written(project: Project) -> None:
    for folder in ("warehouse", "state", "dead_letter"):
        assert not (project.root / folder).exists(), folder


def test_validate_refuses_a_glob_that_matches_nothing_like_run(project: Project) -> None:
    job = project.deals_job()
    job["source"]["files"][0]["path"] = "data/none/*.csv"
    checked, ran = _validate_and_run(project, job)
    line = "dativo: error: jobs/acme/j.yaml: source.files[0].path: no file matches 'data/none/*.csv'"
    assert checked == [line]
    assert ran == [line]  # the file is named once
    _nothing_written(project)


@pytest.mark.parametrize(
    ("incremental", "message"),
    [
        (
            {"strategy": "cursor_column", "cursor_field": "created_at"},
            "source.incremental.strategy: 'cursor_column' is not a strategy of the csv connector "
            "(registered: file_fingerprint)",
        ),
        (
            {"lookback_days": 3},
            "source.incremental.lookback_days: is not used by the csv connector (strategy file_fingerprint)",
        ),
    ],
)
def test_incremental_settings_a_source_does_not_honour_are_refused(
    project: Project, incremental: dict[str, Any], message: str
) -> None:
    project.write_deals("a.csv", [ROW])
    job = project.deals_job()
    job["source"]["incremental"] = incremental
    checked, ran = _validate_and_run(project, job)
    assert f"dativo: error: jobs/acme/j.yaml: {message}" in checked
    assert checked == ran
    _nothing_written(project)


@pytest.mark.parametrize(
    ("block", "extra", "message"),
    [
        ("source", {"connection": {"host": "db"}}, "source: unknown key 'connection'"),
        ("target", {"tabel": "x"}, "target: unknown key 'tabel'"),
        ("target", {"write_mode": "upsert"}, "target.write_mode: 'upsert' is not one of"),
    ],
)
def test_each_connector_block_is_checked_by_its_plugin_schema(
    project: Project, block: str, extra: dict[str, Any], message: str
) -> None:
    project.write_deals("a.csv", [ROW])
    job = project.deals_job()
    job[block].update(extra)
    checked, ran = _validate_and_run(project, job)
    assert len(checked) == 1 and message in checked[0], checked
    assert checked == ran


def test_a_partition_on_an_unknown_column_is_refused_before_any_table(project: Project) -> None:
    project.write_deals("a.csv", [ROW])
    asset = project.root / "assets/csv/v1.0/deals.yaml"
    data = yaml.safe_load(asset.read_text())
    data["asset"]["target"]["partitioning"] = ["ingest_date", "day(closed_on)"]
    asset.write_text(yaml.safe_dump(data, sort_keys=False))
    checked, ran = _validate_and_run(project, project.deals_job())
    line = (
        "dativo: error: assets/csv/v1.0/deals.yaml: asset.target.partitioning: "
        "'closed_on' is not a column of the asset"
    )
    assert checked == ran == [line]
    _nothing_written(project)


def test_validate_writes_nothing_for_an_object_store_warehouse(project: Project) -> None:
    """An S3 warehouse without a catalog URI keeps its SQLite catalog in the home: `validate`
    must not create it (only `run` does)."""
    project.write_deals("a.csv", [ROW])
    job = project.deals_job(target={"connection": {"s3": {"bucket": "lake", "prefix": "x"}}})
    path = project.write_job("j", job)
    result = project.dativo("validate", "--config", str(path))
    assert result.returncode == 0, result.stderr
    _nothing_written(project)


def test_a_connector_without_a_plugin_says_so(project: Project) -> None:
    registry = yaml.safe_load((project.root / "registry" / "connectors.yaml").read_text())
    registry["registry"]["sources"]["zendesk"] = {
        "category": "api",
        "executable": "tap-zendesk",
        "auth_methods": ["api_key"],
        "modes": ["self_hosted", "cloud"],
        "incremental_strategies": ["updated_at_cursor"],
    }
    project.write("registry/connectors.yaml", yaml.safe_dump(registry))
    project.write(
        "assets/zendesk/v1.0/tickets.yaml",
        yaml.safe_dump(
            {
                "asset": {
                    "name": "zendesk_tickets",
                    "source_type": "zendesk",
                    "object": "tickets",
                    "version": "1.0",
                    "schema": [{"name": "id", "type": "string", "required": True}],
                }
            }
        ),
    )
    project.write(
        "connectors/sources/zendesk.yaml",
        yaml.safe_dump({"connector": {"name": "zendesk", "role": "source", "auth": {"method": "api_key"}}}),
    )
    job = project.deals_job(source_connector="zendesk", asset="zendesk_tickets")
    for key in ("source_connector_path", "asset_path"):
        job.pop(key)
    job["source"] = {"objects": ["tickets"]}
    checked, _ = _validate_and_run(project, job)
    assert (
        "dativo: error: registry/connectors.yaml: registry.sources.zendesk.plugin: "
        "source connector 'zendesk' has no runner plugin yet"
    ) in checked


def test_logging_redaction_cannot_be_turned_off(project: Project) -> None:
    project.write_deals("a.csv", [ROW])
    checked, _ = _validate_and_run(project, project.deals_job(logging={"redaction": False}))
    assert len(checked) == 1 and "logging.redaction" in checked[0]


def test_logging_level_reaches_the_tap_and_target(project: Project) -> None:
    project.write_deals("a.csv", [ROW])
    for level, expect_debug in (("DEBUG", True), ("INFO", False)):
        path = project.write_job(f"j_{level}", project.deals_job(logging={"level": level}))
        result = project.dativo("run", "--config", str(path), "-v")
        assert result.returncode == 0, result.stderr
        assert ("| DEBUG" in result.stderr) is expect_debug


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('tenant_id: "acme\\n"\n', "tenant_id: 'acme\\n' is not allowed"),
        ("tenant_id: acme\ntenant_id: other\n", "line 2: invalid YAML: duplicate key 'tenant_id'"),
    ],
)
def test_tenant_with_a_newline_and_duplicate_keys_are_refused(
    project: Project, text: str, message: str
) -> None:
    job = project.deals_job()
    job.pop("tenant_id")
    path = project.write("jobs/acme/j.yaml", text + yaml.safe_dump(job, sort_keys=False))
    result = project.dativo("validate", "--config", str(path))
    assert result.returncode == 2
    lines = _errors(result.stderr)
    assert any(message in line for line in lines), lines
    assert not any((project.root / "jobs").glob("*\n*"))


def test_a_dead_letter_path_that_is_a_file_is_refused_before_any_table(project: Project) -> None:
    project.write_deals("a.csv", [ROW])
    project.write("dead_letter", "a file where the dead-letter folder should be")
    checked, ran = _validate_and_run(project, project.deals_job())
    line = "dativo: error: jobs/acme/j.yaml: target: dead-letter folder cannot be made: "
    assert len(checked) == 1 and checked[0].startswith(line) and checked[0].endswith("/dead_letter is a file")
    assert checked == ran
    assert not (project.root / "warehouse").exists()
