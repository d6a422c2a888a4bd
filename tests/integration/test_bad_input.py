"""Every bad input exits 2 with one clear line naming the file/field, and leaves nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from target_iceberg.catalog import open_catalog

from tests.helpers.project import Project

pytestmark = pytest.mark.integration

GOOD_ROW = "1,A - X,A,proposal,10.00,USD,0.5,false,a@example.com,2024-01-01T00:00:00Z,"


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("dativo: error:")]


def _missing_asset(project: Project) -> dict[str, Any]:
    return project.deals_job(asset_path="assets/csv/v9.9/nothing.yaml")


def _unknown_connector(project: Project) -> dict[str, Any]:
    return project.deals_job(source_connector="salesforce")


def _unknown_key(project: Project) -> dict[str, Any]:
    job = project.deals_job()
    job["sourcee"] = {"objects": ["deals"]}
    return job


def _wrong_type(project: Project) -> dict[str, Any]:
    return project.deals_job(target={"batch": {"rows": "many"}})


def _unresolvable_var(project: Project) -> dict[str, Any]:
    return project.deals_job(
        source={
            "objects": ["deals"],
            "files": [{"object": "deals", "path": "${DEALS_FOLDER_UNSET}/*.csv"}],
        }
    )


def _escaping_tenant(project: Project) -> dict[str, Any]:
    return project.deals_job(tenant_id="../x")


def _no_matching_file(project: Project) -> dict[str, Any]:
    return project.deals_job(source={"objects": ["deals"], "files": [{"path": "data/none/*.csv"}]})


CASES: dict[str, tuple[Callable[[Project], dict[str, Any]], list[str], tuple[str, ...]]] = {
    "missing asset file": (
        _missing_asset,
        [],
        ("asset_path", "assets/csv/v9.9/nothing.yaml not found"),
    ),
    "unknown connector": (
        _unknown_connector,
        [],
        ("source_connector", "unknown source connector 'salesforce'"),
    ),
    "unknown key": (_unknown_key, [], ("unknown key 'sourcee'",)),
    "wrong type": (_wrong_type, [], ("target.batch.rows", "expected integer, got str")),
    "unresolvable var": (
        _unresolvable_var,
        [],
        ("source.files[0].path", "${DEALS_FOLDER_UNSET} is not set"),
    ),
    "tenant escapes folders": (_escaping_tenant, [], ("tenant_id", "'../x' is not allowed")),
    "no file matches": (_no_matching_file, [], ("source.files[0].path", "no file matches")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_job_exits_2_with_one_line_and_no_leftovers(project: Project, case: str) -> None:
    build, extra_args, expected = CASES[case]
    project.write_deals("a.csv", [GOOD_ROW])
    job = project.write_job("bad", build(project))

    result = project.dativo("run", "--config", str(job), *extra_args)

    assert result.returncode == 2, result.stderr
    lines = _error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "jobs/acme/bad.yaml" in lines[0]
    for fragment in expected:
        assert fragment in lines[0]
    assert project.files_under("warehouse") == []
    assert project.files_under("state") == []


def test_database_connector_refused_in_cloud_mode(project: Project) -> None:
    job = project.write_job("pg", project.deals_job(source_connector="postgres"))
    result = project.dativo("run", "--config", str(job), "--mode", "cloud")
    assert result.returncode == 2
    [line] = _error_lines(result.stderr)
    assert "source_connector: source connector 'postgres' is not allowed in cloud mode" in line
    assert "database connectors run only self-hosted" in line
    assert project.files_under("warehouse") == []


def test_all_problems_of_one_file_are_reported_together(project: Project) -> None:
    job = project.deals_job(tenant_id="../x")
    job["extra"] = 1
    job["target"] = {"write_mode": "upsert"}
    path = project.write_job("bad", job)
    result = project.dativo("validate", "--config", str(path))
    assert result.returncode == 2
    lines = _error_lines(result.stderr)
    assert len(lines) == 3
    assert any("tenant_id" in line for line in lines)
    assert any("unknown key 'extra'" in line for line in lines)
    assert any("target.write_mode" in line for line in lines)


def test_unparsable_csv_value_is_dead_lettered_and_the_run_is_partial(project: Project) -> None:
    project.write_deals(
        "a.csv",
        [GOOD_ROW, "2,B - Y,B,proposal,ten dollars,USD,0.5,false,b@example.com,2024-01-01T00:00:00Z,"],
    )
    job = project.write_job("deals", project.deals_job())
    code, summary, stderr = project.run_json("--config", str(job))

    assert code == 1, stderr
    assert summary["status"] == "partial"
    [stream] = summary["streams"]
    assert stream["rows"] == 1
    assert stream["dead_letter_rows"] == 1
    [line] = _error_lines(stderr)
    assert "1 record(s) rejected and dead-lettered" in line
    [entry] = [json.loads(x) for x in Path(stream["dead_letter_path"]).read_text().splitlines()]
    assert entry["reason"] == "field 'amount': 'ten dollars' is not a valid decimal128(12, 2)"
    assert entry["record"]["deal_id"] == 2
    assert entry["record"]["_sdc_source_file"].endswith("data/deals/a.csv")
    assert entry["record"]["_sdc_source_lineno"] == 3
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.csv_deals")
    assert table.scan().to_arrow().column("deal_id").to_pylist() == [1]


def test_standalone_tap_names_file_line_and_column(project: Project) -> None:
    path = project.write_deals(
        "a.csv", [GOOD_ROW, GOOD_ROW.replace("10.00", "ten", 1).replace("1,", "2,", 1)]
    )
    config = project.write(
        "tap.json",
        json.dumps(
            {
                "files": [{"object": "deals", "path": str(path)}],
                "schemas": {"deals": {"type": "object", "properties": {"amount": {"type": "number"}}}},
            }
        ),
    )
    result = subprocess.run(
        [sys.executable, "-c", "from tap_csv.tap import main; main()", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"tap-csv: error: {path} line 3 column amount: 'ten' is not a number"
    )


def test_invalid_yaml_names_the_line(project: Project) -> None:
    path = project.write("jobs/acme/broken.yaml", "tenant_id: acme\nsource: [unclosed\n")
    result = project.dativo("run", "--config", str(path))
    assert result.returncode == 2
    [line] = _error_lines(result.stderr)
    assert "jobs/acme/broken.yaml: line" in line and "invalid YAML" in line


def test_missing_job_file(project: Project) -> None:
    result = project.dativo("run", "--config", "jobs/acme/nope.yaml")
    assert result.returncode == 2
    [line] = _error_lines(result.stderr)
    assert "jobs/acme/nope.yaml: file not found" in line
