"""Every path a job names is confined to the project home like source paths: ``asset_path`` and
connector recipe paths (``../x.yaml``, absolute, a symlink pointing out), a tenant's secrets
files and its state file. Refused with exit 2 and one line naming the field or file, for
`dativo validate` and `dativo run`; the outside file's content is never quoted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.project import Project

pytestmark = pytest.mark.integration

ROW = "1,A,A,proposal,10.00,USD,0.5,false,a@example.com,2024-01-01T00:00:00Z,"
CONTENT = "Hunter2SuperSecret"
OUTSIDE_YAML = f"asset:\n  name: csv_deals\n  secret: *{CONTENT}\n"  # an undefined alias names it


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("dativo: error:")]


def _outside_file(project: Project) -> Path:
    path = project.root.parent / "x.yaml"
    path.write_text(OUTSIDE_YAML)
    return path


def _as_written(project: Project, how: str) -> str:
    outside = _outside_file(project)
    if how == "dotdot":
        return "../x.yaml"
    if how == "absolute":
        return str(outside)
    link = project.root / "assets" / "csv" / "v1.0" / "link.yaml"
    link.symlink_to(outside)
    return "assets/csv/v1.0/link.yaml"


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
@pytest.mark.parametrize("field", ["asset_path", "source_connector_path", "target_connector_path"])
def test_a_config_file_outside_the_home_is_never_read(
    project: Project, command: str, how: str, field: str
) -> None:
    project.write_deals("a.csv", [ROW])
    written = _as_written(project, how)
    job = project.write_job("deals", project.deals_job(**{field: written}))

    result = project.dativo(command, "--config", str(job))

    assert result.returncode == 2
    errors = _errors(result.stderr)
    assert len(errors) == 1, result.stderr
    assert f"{field}: {written!r} is outside the project home" in errors[0]
    assert CONTENT not in result.stdout + result.stderr
    assert project.files_under("warehouse") == [] and project.files_under("state") == []


def test_an_asset_file_linked_from_outside_is_not_found_by_convention(project: Project) -> None:
    """With no ``asset_path``, the asset is looked up in ``assets/<source>/v*/``: a link there
    pointing out of the home is skipped, unread."""
    project.write_deals("a.csv", [ROW])
    (project.root / "assets" / "csv" / "v9.0").mkdir()
    (project.root / "assets" / "csv" / "v9.0" / "deals.yaml").symlink_to(_outside_file(project))
    job = project.deals_job()
    del job["asset_path"]
    path = project.write_job("deals", job)

    result = project.dativo("run", "--config", str(path))

    assert result.returncode == 0, result.stderr  # the home's own v1.0 asset
    assert CONTENT not in result.stdout + result.stderr


def test_a_secrets_file_linked_to_another_tenants_is_refused(project: Project) -> None:
    project.write("secrets/globex/api.env", "GLOBEX_ONLY_TOKEN=globex-token-value-123\n")
    (project.root / "secrets" / "acme").mkdir()
    (project.root / "secrets" / "acme" / "stolen.env").symlink_to(
        project.root / "secrets" / "globex" / "api.env"
    )
    project.write_deals("a.csv", [ROW])
    job = project.write_job("deals", project.deals_job(target={"table": "t_${GLOBEX_ONLY_TOKEN:-x}"}))

    for command in ("validate", "run"):
        result = project.dativo(command, "--config", str(job), "--secrets-dir", "secrets")

        assert result.returncode == 2
        errors = _errors(result.stderr)
        assert len(errors) == 1, result.stderr
        assert "secrets/acme/stolen.env: links outside the tenant's secrets folder: not read" in errors[0]
        assert "globex-token-value" not in result.stdout + result.stderr
    assert project.files_under("warehouse") == []


def test_a_state_file_linked_to_another_tenants_bookmark_is_refused(project: Project) -> None:
    victim = project.write("state/globex/deals.json", json.dumps({"bookmarks": {"deals": {"v": 1}}}))
    before = victim.read_text()
    (project.root / "state" / "acme").mkdir()
    (project.root / "state" / "acme" / "deals.json").symlink_to(victim)
    project.write_deals("a.csv", [ROW])
    job = project.write_job("deals", project.deals_job())

    result = project.dativo("run", "--config", str(job))

    assert result.returncode == 2
    errors = _errors(result.stderr)
    assert len(errors) == 1, result.stderr
    assert "state/acme/deals.json: links outside the state folder of its tenant: not used" in errors[0]
    assert victim.read_text() == before
    assert project.files_under("warehouse") == []
