"""A target that knows nothing of dativo's log lines (a plain singer-sdk target writing JSON lines,
tests/fixtures/connector_package) registered as docs/CONNECTORS.md describes: the run summary, `--json`
and the rows landed agree, counted from the Singer messages at the pipe."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.project import Project

pytestmark = pytest.mark.integration

PACKAGE = Path(__file__).resolve().parents[1] / "fixtures" / "connector_package"
ROWS = 5000


def register_jsonl_dir(project: Project, *, plugin: str | None) -> None:
    """One registry entry and one recipe for the jsonl_dir target (``plugin`` None: found by
    its entry point)."""
    path = project.root / "registry" / "connectors.yaml"
    registry = yaml.safe_load(path.read_text())
    entry = {
        "category": "file",
        "executable": "target-jsonl-dir",
        "description": "JSON lines files in a local folder",
        "auth_methods": ["none"],
        "modes": ["self_hosted", "cloud"],
    }
    if plugin:
        entry["plugin"] = plugin
    registry["registry"]["targets"]["jsonl_dir"] = entry
    path.write_text(yaml.safe_dump(registry, sort_keys=False))
    project.write(
        "connectors/targets/jsonl_dir.yaml",
        yaml.safe_dump({"connector": {"name": "jsonl_dir", "role": "target", "auth": {"method": "none"}}}),
    )


def write_deals(project: Project, rows: int) -> None:
    lines = [
        f"{i},Deal {i},Acme,proposal,{i}.50,USD,0.5,false,owner{i}@x.io,2024-01-01T00:00:00Z,"
        for i in range(1, rows + 1)
    ]
    project.write_deals("a.csv", lines)


def _env(tmp_path: Path) -> dict[str, str]:
    """The fixture package importable and its program on PATH, as an installed one would be."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    program = bin_dir / "target-jsonl-dir"
    program.write_text(f'#!/bin/sh\nexec {sys.executable} -m dativo_target_jsonl_dir.target "$@"\n')
    program.chmod(0o755)
    path = os.pathsep.join([str(PACKAGE), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.parametrize("fast_path", [True, False], ids=["batch", "record"])
def test_summary_counts_the_rows_a_third_party_target_wrote(
    project: Project, tmp_path: Path, fast_path: bool
) -> None:
    register_jsonl_dir(project, plugin="dativo_target_jsonl_dir.plugin:JsonlDirTarget")
    write_deals(project, ROWS)
    job = project.deals_job(
        target_connector="jsonl_dir", target_connector_path="connectors/targets/jsonl_dir.yaml"
    )
    job["source"]["fast_path"] = fast_path
    path = project.write_job("deals_jsonl", job)
    env = _env(tmp_path)

    code, summary, stderr = project.run_json("--config", str(path), env=env)

    assert code == 0, stderr
    written = (project.root / "jsonl" / "acme" / "deals.jsonl").read_text().splitlines()
    assert len(written) == ROWS
    assert [s["rows"] for s in summary["streams"]] == [ROWS]
    assert summary["streams"][0]["table"] == "jsonl/acme/deals.jsonl"
    assert summary["streams"][0]["snapshot_id"] is None
    # The column policy was applied by the tap: the target never saw an address.
    assert all("@" not in json.loads(line)["owner_email"] for line in written)

    project.write_deals("b.csv", ["9001,Late,Acme,won,1.00,USD,1,true,z@x.io,2024-02-01T00:00:00Z,"])
    text = project.dativo("run", "--config", str(path), env=env)
    assert text.returncode == 0, text.stderr
    line = next(x for x in text.stdout.splitlines() if "stream deals:" in x)
    assert "stream deals: 1 rows" in line and line.endswith("-> jsonl/acme/deals.jsonl"), line
    assert len((project.root / "jsonl" / "acme" / "deals.jsonl").read_text().splitlines()) == ROWS + 1


def test_dagster_materialization_counts_a_third_party_target(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dagster's materialization metadata (through Pipes) carries the same rows."""
    from tests.integration.test_orchestration import _defs, _materialize, _runner_yaml

    for name, value in _env(tmp_path).items():
        monkeypatch.setenv(name, value)  # what the launched `dativo run` sees
    monkeypatch.syspath_prepend(str(PACKAGE))  # the definitions validate the job in this process
    register_jsonl_dir(project, plugin="dativo_target_jsonl_dir.plugin:JsonlDirTarget")
    write_deals(project, 40)
    job = project.deals_job(
        target_connector="jsonl_dir", target_connector_path="connectors/targets/jsonl_dir.yaml"
    )
    project.write_job("deals", job)
    path = _runner_yaml(
        project, [{"name": "acme_deals", "config": "jobs/acme/deals.yaml", "cron": "0 * * * *"}]
    )

    result, _ = _materialize(_defs(project, path), "acme_deals_job")

    assert result.success
    [materialization] = result.asset_materializations_for_node("acme__csv_deals")
    assert materialization.metadata["rows"].value == 40  # this run's rows, counted at the pipe
    # dagster/row_count is a table's row count: a target that reports no table has none
    assert "dagster/row_count" not in materialization.metadata
    assert materialization.metadata["table"].value == "jsonl/acme/deals.jsonl"
    assert "snapshot_id" not in materialization.metadata
    assert len((project.root / "jsonl" / "acme" / "deals.jsonl").read_text().splitlines()) == 40
