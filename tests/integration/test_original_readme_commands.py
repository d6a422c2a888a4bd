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
    """Every command line of the README's bash blocks (continued lines joined, comments out)."""
    text = README.read_text(encoding="utf-8")
    found = [m.group("body").replace("\\\n", " ") for m in FENCE.finditer(text) if m.group("lang") == "bash"]
    lines = [line.strip() for body in found for line in body.splitlines()]
    return [" ".join(line.split()) for line in lines if line and not line.startswith("#")]


# Commands a test cannot run as written, each with its reason; every other command is run below.
NOT_RUN = {
    "docker build -t dativo:1.1.0 .": "needs a Docker engine (tests/unit/test_dockerfile.py lints the "
    "Dockerfile and replays its entry command)",
    "docker run": "needs a Docker engine",
    "dativo run --config <path> --mode <self_hosted|cloud>": "a synopsis, not a command",
    "dativo start orchestrated --runner-config <path>": "a synopsis, not a command",
    "make test-unit": "the suite that runs this test runs tests/unit and tests/standard",
    "make test": "the suite that runs this test",
}
RUN = {
    "pip install -r requirements.txt",
    "npm install --include=dev",
    "make schema-validate",
    "python -m dativo_ingest.cli run --config configs/jobs/stripe.yaml --mode self_hosted",
    "dativo run --config /app/configs/jobs/stripe.yaml --mode self_hosted",
    "dativo start orchestrated --runner-config /app/configs/runner.yaml",
    "pytest tests/test_*.py -v",
    "dativo_ingest run --job-dir tests/fixtures/jobs --secrets-dir tests/fixtures/secrets",
    "make test-smoke",
}


def _not_run(command: str) -> str | None:
    return next(
        (why for prefix, why in NOT_RUN.items() if command == prefix or command.startswith(prefix + " ")),
        None,
    )


def test_every_command_is_run_here_or_has_its_reason() -> None:
    commands = _commands()
    assert {c for c in commands if _not_run(c) is None} == RUN
    assert len([c for c in commands if _not_run(c) is not None]) == 7  # docker x3, 2 synopses, 2 makes


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


@pytest.mark.parametrize(
    "command",
    [
        "pip install -r requirements.txt",
        "npm install --include=dev",
    ],
)
def test_the_install_commands_resolve(command: str) -> None:
    """Run with --dry-run: installing for real mid-suite would rewrite the environment that the
    tests running beside this one import from (CI installs the same through `make install`)."""
    assert command in _commands()
    # The core, taps and targets are distributions of their own: pip's isolated build of each
    # folder costs seconds of index look-ups apiece; the venv's setuptools (dev extra) builds them.
    extra = " --no-build-isolation" if command.startswith("pip ") else ""
    result = _shell(f"{command} --dry-run{extra}", REPO, env={"PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


@pytest.mark.parametrize(
    ("command", "says"),
    [
        ("make schema-validate", "0 invalid"),
        ("pytest tests/test_*.py -v", "passed"),
        ("make test-smoke", "succeeded"),
    ],
)
def test_the_testing_commands_pass(command: str, says: str) -> None:
    assert command in _commands()
    result = _shell(command, REPO)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert says in result.stdout + result.stderr


def test_start_orchestrated_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`dativo start orchestrated --runner-config /app/configs/runner.yaml`: the `/app` path is
    the home's; the UI answers on its default port, and SIGTERM stops it with exit 0."""
    import signal
    import time
    import urllib.request

    command = "dativo start orchestrated --runner-config /app/configs/runner.yaml"
    assert command in _commands()
    home = _home(tmp_path)
    log = tmp_path / "start.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATIVO_HOME", "DAGSTER_HOME")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"], cwd=home, env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen("http://127.0.0.1:3000/server_info", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=90) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
