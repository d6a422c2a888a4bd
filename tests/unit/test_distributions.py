"""Each tap and target is a distribution of its own (docs/PACKAGING.md): what a tap installed alone
declares, and that it starts with none of the platform's heavy libraries importable. No network:
the pyproject.toml files are read, and the programs run from this checkout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from tests.helpers.distributions import PLATFORM_HEAVY, REPO, declared_requirements, local_projects

# A tap alone: singer-sdk, the core and these (REST taps need no Arrow: `[parquet]` adds it).
ALONE = {
    "dativo-tap-stripe": {"singer-sdk", "requests"},
    "dativo-tap-hubspot": {"singer-sdk", "requests"},
    "dativo-tap-markdown-kv": {"singer-sdk", "requests", "jsonschema"},
}
# Refused at import in the programs' process: what a tap alone does not have.
MISSING = ("pyarrow", "orjson", "pyiceberg", "connectorx", "adbc_driver_postgresql", "azure", "google", "dagster", "boto3", "dativo_runner")


def test_every_tap_and_target_folder_is_a_distribution_with_its_program() -> None:
    projects = local_projects()
    folders = {folder.name for folder, _ in projects.values()}
    assert folders == {p.name for p in [*REPO.glob("taps/*/"), *REPO.glob("targets/*/")] if (p / "__init__.py").exists()} | {"dativo_singer"}
    for name, (folder, project) in projects.items():
        if folder.name == "dativo_singer":
            continue
        program = folder.name.replace("_", "-")
        assert name == f"dativo-{program}"
        assert project["scripts"] == {program: f"{folder.name}.{'tap' if program.startswith('tap-') else 'target'}:main"}


def test_the_platform_depends_on_every_distribution_and_ships_no_connector() -> None:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    required = {r.split("[")[0].split("=")[0] for r in root["dependencies"]}
    assert set(local_projects()) <= required
    assert set(root["scripts"]) == {"dativo", "dativo_ingest"}
    listed = (REPO / "requirements.txt").read_text().split()
    for folder, _ in local_projects().values():
        assert f"./{folder.relative_to(REPO)}" in listed  # pip install -r requirements.txt


@pytest.mark.parametrize("name", sorted(ALONE))
def test_a_rest_or_file_tap_alone_declares_singer_sdk_and_its_own_libraries(name: str) -> None:
    declared = declared_requirements(name)
    assert declared == ALONE[name]
    assert not [d for d in declared if d.startswith(PLATFORM_HEAVY)]
    assert "pyarrow" in declared_requirements(name, ("parquet",))


@pytest.mark.parametrize("name", sorted(local_projects()))
def test_no_connector_declares_another_connectors_heavy_library(name: str) -> None:
    declared = declared_requirements(name)
    allowed = {
        "dativo-tap-postgres": ("adbc-driver",),
        "dativo-tap-mysql": ("connectorx",),
        "dativo-tap-gdrive-csv": ("google-",),
        "dativo-tap-google-sheets": ("google-",),
        "dativo-target-iceberg": ("pyiceberg",),
    }.get(name, ())
    heavy = [d for d in declared if d.startswith(PLATFORM_HEAVY) and d != "pyarrow"]
    assert all(d.startswith(allowed) for d in heavy), heavy
    assert not [d for d in declared if d.startswith("dagster")]


def _run_without_platform(program: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The program's main with the platform's libraries unimportable, as in a venv of the tap alone."""
    module = f"{program.replace('-', '_')}.tap"
    code = (
        "import sys\n"
        f"MISSING = {MISSING!r}\n"
        "class Missing:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in MISSING: raise ModuleNotFoundError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, Missing())\n"
        f"sys.argv = [{program!r}, *{list(args)!r}]\n"
        f"from {module} import main\n"
        "main()\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("program", ["tap-stripe", "tap-hubspot", "tap-markdown-kv"])
def test_a_tap_alone_describes_itself_without_the_platforms_libraries(program: str) -> None:
    about = _run_without_platform(program, "--about", "--format", "json")
    assert about.returncode == 0, about.stderr[-2000:]
    assert json.loads(about.stdout)["name"] == program


def test_tap_stripe_discovers_without_the_platforms_libraries(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"api_key": "sk_test_x", "api_url": "http://127.0.0.1:9"}))
    discovered = _run_without_platform("tap-stripe", "--config", str(config), "--discover")
    assert discovered.returncode == 0, discovered.stderr[-2000:]
    streams = {s["tap_stream_id"] for s in json.loads(discovered.stdout)["streams"]}
    assert {"customers", "charges", "invoices", "events"} <= streams


def test_the_platform_lists_every_third_party_library_its_distributions_declare() -> None:
    """So the image's lock (scripts/docker_lock.py, from the root's list) pins all of them."""
    root = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    listed = {r.split("[")[0].split(">")[0].split("=")[0].split("<")[0].lower() for r in root}
    for name in local_projects():
        every_extra = tuple(local_projects()[name][1].get("optional-dependencies", {}))
        assert declared_requirements(name, every_extra) <= listed, name
