"""The original product README's commands, as people have them in their shell history
(tests/fixtures/original-product-readme.md, a copy of the product's first description): the
`dativo_ingest` module and console script are the `dativo` command, and its example paths
(`configs/jobs/stripe.yaml`, `/app/configs/jobs/...`) fail with one line naming the job file to
use instead."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.emulators.server import serve
from tests.emulators.stripe import API_KEY, StripeEmulator
from tests.helpers.doc_commands import FENCE
from tests.helpers.project import REPO

pytestmark = pytest.mark.integration

README = REPO / "tests" / "fixtures" / "original-product-readme.md"
BIN = Path(sys.executable).parent


def _commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    found = [m.group("body") for m in FENCE.finditer(text) if m.group("lang") == "bash"]
    return [line.strip() for body in found for line in body.splitlines() if line.strip()]


def _shell(command: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    full_env = {**os.environ, "PATH": path, "PYTHON": sys.executable, **(env or {})}
    full_env.pop("DATIVO_HOME", None)
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300
    )


def _home(tmp_path: Path) -> Path:
    """A copy of the repo's configuration and fixtures: runs write nothing into the checkout."""
    home = tmp_path / "home"
    for folder in ("registry", "connectors", "assets", "configs", "jobs", "data"):
        shutil.copytree(REPO / folder, home / folder)
    shutil.copytree(REPO / "tests" / "fixtures", home / "tests" / "fixtures")
    return home


@pytest.mark.parametrize(
    "command",
    [
        "python -m dativo_ingest.cli run --config configs/jobs/stripe.yaml --mode self_hosted",
        "dativo run --config /app/configs/jobs/stripe.yaml --mode self_hosted",
    ],
)
def test_the_readmes_example_paths_name_the_job_file_to_use(command: str, tmp_path: Path) -> None:
    assert command in _commands()
    result = _shell(command.replace("python ", f"{sys.executable} ", 1), _home(tmp_path))
    assert result.returncode == 2
    [line] = [line for line in result.stderr.splitlines() if line.startswith("dativo: error:")]
    assert "configs/jobs/stripe.yaml: file not found" in line
    assert "did you mean jobs/acme/stripe_customers_to_iceberg.yaml?" in line


def test_python_m_dativo_ingest_cli_runs_the_stripe_job(tmp_path: Path) -> None:
    """The README's run command with the job file it names, against the local Stripe emulator."""
    home = _home(tmp_path)
    command = "python -m dativo_ingest.cli run --config {} --mode self_hosted"
    assert command.format("configs/jobs/stripe.yaml") in _commands()
    job = "jobs/acme/stripe_customers_to_iceberg.yaml"  # the file the README's path fails to name
    with serve(StripeEmulator({"customers": 30})) as stripe:
        result = _shell(
            command.format(job).replace("python ", f"{sys.executable} ", 1),
            home,
            env={"STRIPE_API_URL": stripe.url, "STRIPE_API_KEY": API_KEY, "DATIVO_HASH_SALT": "readme"},
        )
    assert result.returncode == 0, result.stderr
    assert "30 rows" in result.stdout + result.stderr


def test_the_smoke_command_runs_with_dativo_ingest(tmp_path: Path) -> None:
    command = "dativo_ingest run --job-dir tests/fixtures/jobs --secrets-dir tests/fixtures/secrets"
    assert command in _commands()
    home = _home(tmp_path)
    result = _shell(command, home)
    assert result.returncode == 0, result.stderr
    assert "succeeded" in result.stdout + result.stderr
    same = _shell("dativo --version && dativo_ingest --version", home)
    first, second = same.stdout.splitlines()
    assert first == second
