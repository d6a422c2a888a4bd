"""Inputs that used to land half-way or in clear text: classifications, paths outside the home,
moved or unwritable warehouses, run files left behind, redaction in every command."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from target_iceberg.catalog import open_catalog

from tests.helpers.project import Project

pytestmark = pytest.mark.integration

ROW = "1,A,A,proposal,1.00,USD,0.5,false,owner@example.com,2024-01-01T00:00:00Z,"


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("dativo: error:")]


def _classify_owner(project: Project, classification: str) -> None:
    asset = project.root / "assets/csv/v1.0/deals.yaml"
    data = yaml.safe_load(asset.read_text())
    for field in data["asset"]["schema"]:
        if field["name"] == "owner_email":
            field["classification"] = classification
    asset.write_text(yaml.safe_dump(data, sort_keys=False))


def _owner_emails(project: Project) -> list[str]:
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.csv_deals")
    return table.scan(selected_fields=("owner_email",)).to_arrow().column("owner_email").to_pylist()


def test_a_lowercase_classification_is_still_protected(project: Project) -> None:
    project.write_deals("a.csv", [ROW])
    _classify_owner(project, "pii")
    job = project.write_job("deals", project.deals_job())
    result = project.dativo("run", "--config", str(job))
    assert result.returncode == 0, result.stderr
    [email] = _owner_emails(project)
    assert email != "owner@example.com" and len(email) == 64  # salted SHA-256, hex


def test_an_unknown_classification_is_refused_before_anything_lands(project: Project) -> None:
    project.write_deals("a.csv", [ROW])
    _classify_owner(project, "TOPSECRET")
    job = project.write_job("deals", project.deals_job())
    for command in ("validate", "run"):
        result = project.dativo(command, "--config", str(job))
        assert result.returncode == 2, result.stderr
        assert _errors(result.stderr) == [
            "dativo: error: assets/csv/v1.0/deals.yaml: asset.schema[8].classification: 'TOPSECRET' is "
            "not a classification of configs/policy.yaml (known: CONFIDENTIAL, PII, PUBLIC, SECRET)"
        ]
    assert not (project.root / "warehouse").exists()


def test_paths_outside_the_home_are_refused_unless_allowed(project: Project, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "deals.csv").write_text((project.root / project.write_deals("a.csv", [ROW])).read_text())
    (project.root / "data/deals/a.csv").unlink()
    (project.root / "data/deals/link.csv").symlink_to(outside / "deals.csv")
    for path in (str(outside / "deals.csv"), "data/deals/link.csv", "../elsewhere/*.csv"):
        job = project.deals_job()
        job["source"]["files"][0]["path"] = path
        written = project.write_job("deals", job)
        result = project.dativo("run", "--config", str(written))
        assert result.returncode == 2, result.stderr
        [line] = _errors(result.stderr)
        assert "outside the project home" in line and "runner.allowed_paths" in line, line
        assert "deal_id" not in result.stderr  # nothing of the file is echoed
    project.write("configs/runner.yaml", yaml.safe_dump({"runner": {"allowed_paths": [str(outside)]}}))
    result = project.dativo("run", "--config", str(written))
    assert result.returncode == 0, result.stderr


def test_a_moved_warehouse_is_refused_with_the_fix(project: Project, tmp_path: Path) -> None:
    project.write_deals("a.csv", [ROW])
    job = project.write_job("deals", project.deals_job())
    assert project.dativo("run", "--config", str(job)).returncode == 0
    moved = Project(tmp_path / "moved")
    shutil.move(str(project.root), str(moved.root))
    result = moved.dativo("run", "--config", str(moved.root / "jobs/acme/deals.yaml"))
    assert result.returncode == 2
    [line] = _errors(result.stderr)
    assert "the warehouse folder was moved" in line and str(project.root / "warehouse") in line, line


def test_an_unwritable_warehouse_is_one_line_naming_it(project: Project) -> None:
    project.write_deals("a.csv", [ROW])
    project.write("blocker", "a file where a folder should be")
    for target in ({}, {"warehouse": "blocker/wh"}):
        (project.root / "warehouse").write_text("a file where the warehouse should be")
        job = project.write_job("deals", project.deals_job(target=target))
        result = project.dativo("run", "--config", str(job))
        assert result.returncode == 2
        [line] = _errors(result.stderr)
        assert "warehouse folder" in line and "cannot be written" in line, line
        assert ("blocker/wh" if target else "/warehouse") in line, line
        assert "sqlalche" not in result.stderr


def test_run_files_do_not_outlive_the_run_in_a_shared_temp_folder(project: Project) -> None:
    project.write_deals("a.csv", [ROW])
    job = project.write_job("deals", project.deals_job())
    before = set(Path("/tmp").glob("dativo-run-*"))
    assert project.dativo("run", "--config", str(job)).returncode == 0
    assert set(Path("/tmp").glob("dativo-run-*")) == before
    assert not (project.root / "state/acme/.deals.run").exists()


@pytest.mark.parametrize("command", [["show"], ["maintain", "--dry-run"], ["validate"]])
def test_every_command_redacts_secrets_in_its_errors(project: Project, command: list[str]) -> None:
    secret = "QATOKEN-a\\b'c\"d"
    project.write("secrets/acme/app.env", f"NAMESPACE_TOKEN={secret}\n")
    project.write_deals("a.csv", [ROW])
    job = project.write_job("deals", project.deals_job(target={"namespace": "${NAMESPACE_TOKEN}"}))
    result = project.dativo(*command, "--config", str(job), "--secrets-dir", "secrets")
    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert "QATOKEN" not in output, output
    assert "****" in output
