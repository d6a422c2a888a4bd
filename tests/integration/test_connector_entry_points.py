"""A connector in its own distribution (tests/fixtures/connector_package), installed with pip into
a throwaway folder, registers through the ``dativo.connectors`` entry point and one registry entry:
`dativo validate`, `dativo generate config --target` and `dativo run` use it with no core change,
the summary counts what it wrote, and the column policies reached it applied."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.helpers.project import Project
from tests.integration.test_third_party_target import PACKAGE, register_jsonl_dir, write_deals

pytestmark = pytest.mark.integration

ROWS = 300


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The fixture package pip-installed into a folder; the environment that sees it."""
    folder = tmp_path_factory.mktemp("connector")
    source = shutil.copytree(PACKAGE, folder / "src")
    site = folder / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert (site / "bin" / "target-jsonl-dir").is_file()
    return {
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "PATH": f"{site / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }


def test_an_installed_connector_validates_generates_and_runs(
    project: Project, installed: dict[str, str]
) -> None:
    register_jsonl_dir(project, plugin=None)  # found by its entry point
    write_deals(project, ROWS)

    job = project.deals_job(
        target_connector="jsonl_dir", target_connector_path="connectors/targets/jsonl_dir.yaml"
    )
    checked = project.dativo(
        "validate", "--config", str(project.write_job("deals_jsonl", job)), env=installed
    )
    assert checked.returncode == 0, checked.stderr

    generated = project.dativo(
        "generate",
        "config",
        "--source",
        "csv",
        "--path",
        "data/deals/*.csv",
        "--object",
        "sales",
        "--tenant",
        "acme",
        "--target",
        "jsonl_dir",
        "--json",
        env=installed,
    )
    assert generated.returncode == 0, generated.stderr
    report = json.loads(generated.stdout)
    assert report["job"] == "jobs/acme/csv_sales_to_jsonl_dir.yaml"
    assert "owner_email" in report["pii"]
    written_job = yaml.safe_load((project.root / report["job"]).read_text())
    assert written_job["target"] == {"folder": "jsonl/sales"}  # drafted by the plugin

    code, summary, stderr = project.run_json("--config", report["job"], env=installed)
    assert code == 0, stderr
    lines = (project.root / "jsonl" / "sales" / "sales.jsonl").read_text().splitlines()
    assert len(lines) == ROWS
    assert summary["streams"][0]["rows"] == ROWS
    assert summary["streams"][0]["table"] == "jsonl/sales/sales.jsonl"
    emails = [json.loads(line)["owner_email"] for line in lines]
    assert all(len(e) == 64 and "@" not in e for e in emails)  # hashed by the tap, before the pipe


def test_without_the_distribution_the_connector_has_no_plugin(project: Project) -> None:
    register_jsonl_dir(project, plugin=None)
    job = project.deals_job(
        target_connector="jsonl_dir", target_connector_path="connectors/targets/jsonl_dir.yaml"
    )
    result = project.dativo("validate", "--config", str(project.write_job("deals_jsonl", job)))
    assert result.returncode == 2
    assert (
        "dativo: error: registry/connectors.yaml: registry.targets.jsonl_dir.plugin: "
        "target connector 'jsonl_dir' has no runner plugin yet"
    ) in result.stderr.splitlines()


def test_source_options_are_those_the_registered_plugins_declare(project: Project) -> None:
    before = project.dativo("discover", "--help").stdout
    assert "--folder-id" in before and "gdrive_csv: the Drive folder's id" in before
    assert "csv, markdown_kv: file, folder or glob" in before
    path = project.root / "registry" / "connectors.yaml"
    registry = yaml.safe_load(path.read_text())
    del registry["registry"]["sources"]["gdrive_csv"]
    path.write_text(yaml.safe_dump(registry, sort_keys=False))
    after = project.dativo("generate", "config", "--help").stdout
    assert "--folder-id" not in after and "--spreadsheet-id" in after
    refused = project.dativo("discover", "--connector", "csv", "--folder-id", "x")
    assert refused.returncode == 2 and "unrecognized arguments: --folder-id x" in refused.stderr
    (project.root / "registry" / "connectors.yaml").unlink()
    missing = project.dativo("discover", "--connector", "csv", "--path", "data/x.csv")
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == ["dativo: error: registry/connectors.yaml: file not found"]
