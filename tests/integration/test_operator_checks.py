"""What an operator sees: `validate` refuses what `run` would, `check` connects to each side,
error lines name the setting to change, and a job folder's run ends with one overall line."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.project import REPO, Project
from tests.services import seaweedfs

pytestmark = pytest.mark.integration

# No credential reaches the CLI from the environment running the tests.
NO_CREDENTIALS = {
    "STRIPE_API_KEY": "",
    "S3_ACCESS_KEY_ID": "",
    "S3_SECRET_ACCESS_KEY": "",
    "AWS_ACCESS_KEY_ID": "",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config",
}
RUN_SUFFIX = ".run.json"
DEAL = "1,A - X,A,proposal,10.00,USD,0.5,false,a@example.com,2024-01-01T00:00:00Z,"


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("dativo: error:")]


def _copy_jobs(project: Project, *names: str) -> None:
    (project.root / "jobs" / "acme").mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(REPO / "jobs" / "acme" / f"{name}.yaml", project.root / "jobs" / "acme")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_validate_refuses_missing_credentials_as_run_would(project: Project) -> None:
    _copy_jobs(project, "stripe_customers_to_iceberg", "csv_deals_to_s3")
    project.write_deals("deals_2024.csv", [DEAL])
    result = project.dativo("validate", "--job-dir", "jobs", env=NO_CREDENTIALS)
    assert result.returncode == 2, result.stderr
    assert _errors(result.stderr) == [
        "dativo: error: jobs/acme/csv_deals_to_s3.yaml: target.connection.s3: no credentials: set "
        "S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY (tenant secrets <secrets-dir>/acme/*.env or "
        "environment), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        "dativo: error: jobs/acme/stripe_customers_to_iceberg.yaml: source.secret: the stripe API key "
        "STRIPE_API_KEY is not set (tenant secrets <secrets-dir>/acme/*.env or environment)",
    ]
    assert result.stdout.strip() == "2 jobs checked, 2 invalid"
    every = project.dativo("validate", "--all", env=NO_CREDENTIALS)
    assert every.returncode == 2 and len(_errors(every.stderr)) == 2, every.stderr

    key = "sk_test_operator_checks_0123456789"
    given = {
        **NO_CREDENTIALS,
        "STRIPE_API_KEY": key,
        "S3_ACCESS_KEY_ID": "k",
        "S3_SECRET_ACCESS_KEY": "s" * 16,
    }
    result = project.dativo("validate", "--job-dir", "jobs", env=given)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2 jobs checked, 0 invalid"


def test_check_connects_to_each_side_and_names_the_variables(project: Project) -> None:
    project.write_deals("deals_2024.csv", [DEAL])
    project.write_job("deals", project.deals_job())
    result = project.dativo("check", "--config", "jobs/acme/deals.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "jobs/acme/deals.yaml: source csv: ok",
        "jobs/acme/deals.yaml: target iceberg: ok",
        "1 jobs checked, 0 failed",
    ]
    assert not (project.root / "state").exists() and not (project.root / "warehouse").exists()

    _copy_jobs(project, "postgres_orders_to_iceberg")
    port = _free_port()  # nothing listens there
    env = {"PG_HOST": "127.0.0.1", "PG_PORT": str(port)}
    result = project.dativo("check", "--config", "jobs/acme/postgres_orders_to_iceberg.yaml", env=env)
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "jobs/acme/postgres_orders_to_iceberg.yaml: source postgres: failed: host/port: nothing accepts "
        f"connections on 127.0.0.1:{port} (connection refused): check host and port; settings: "
        "source.connection.host=${PG_HOST}, source.connection.port=${PG_PORT}"
    )
    assert lines[1:] == [
        "jobs/acme/postgres_orders_to_iceberg.yaml: target iceberg: ok",
        "1 jobs checked, 1 failed",
    ]

    _copy_jobs(project, "csv_deals_to_s3")
    wrong = "wrong-secret-value-0123456789"
    env = {**NO_CREDENTIALS, "S3_ACCESS_KEY_ID": seaweedfs().access_key, "S3_SECRET_ACCESS_KEY": wrong}
    result = project.dativo("check", "--config", "jobs/acme/csv_deals_to_s3.yaml", env=env)
    assert result.returncode == 2 and wrong not in result.stdout + result.stderr
    target = result.stdout.splitlines()[1]
    assert target.startswith("jobs/acme/csv_deals_to_s3.yaml: target s3: failed: S3 bucket 'lake' at "), (
        target
    )
    assert (
        "access denied" in target
        and "target.connection.s3.secret_access_key=${S3_SECRET_ACCESS_KEY}" in target
    )


def test_job_folder_run_ends_with_one_overall_line(project: Project) -> None:
    project.write_deals("deals_2024.csv", [DEAL])
    project.write_job("deals", project.deals_job())
    project.write_job("deals_again", project.deals_job())
    bad = project.deals_job()
    bad["sourcee"] = {}
    project.write_job("bad", bad)
    _copy_jobs(project, "stripe_customers_to_iceberg")
    result = project.dativo("run", "--job-dir", "jobs", env={**NO_CREDENTIALS, "DATIVO_HASH_SALT": ""})
    assert result.returncode == 1, result.stderr
    out = result.stdout.splitlines()
    assert out[0] == "job jobs/acme/bad.yaml: invalid (error above)"
    assert out[-1] == "4 jobs: 2 succeeded, 1 failed, 1 invalid"
    assert "tenant ?" not in result.stdout and "error:" not in result.stdout
    assert next(line for line in out if "stripe" in line).endswith("failed in 0.00s (error above)")
    assert _errors(result.stderr) == [
        "dativo: error: jobs/acme/bad.yaml: unknown key 'sourcee' (did you mean 'source'?)",
        "dativo: error: jobs/acme/stripe_customers_to_iceberg.yaml: source.secret: the stripe API key "
        "STRIPE_API_KEY is not set (tenant secrets <secrets-dir>/acme/*.env or environment)",
    ]
    salt = [line for line in result.stderr.splitlines() if "policy salt DATIVO_HASH_SALT is not set" in line]
    assert len(salt) == 1, result.stderr  # two hashing jobs, one warning


def test_error_lines_name_what_to_change(project: Project, tmp_path: Path) -> None:
    project.write_deals("deals_2024.csv", [DEAL])
    project.write_job("deals", project.deals_job())
    secrets = tmp_path / "secrets" / "acme"
    secrets.mkdir(parents=True)
    (secrets / "app.env").write_bytes(b"TOKEN=\xff\xfe\n")
    result = project.dativo(
        "validate", "--config", "jobs/acme/deals.yaml", "--secrets-dir", str(secrets.parent)
    )
    assert _errors(result.stderr) == [
        f"dativo: error: {secrets / 'app.env'}: not UTF-8 text (byte 6): save the secrets file as UTF-8"
    ]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = [sys.executable, "-m", "dativo_runner", "validate", "--config", "jobs/acme/deals.yaml"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    result = subprocess.run(run, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert _errors(result.stderr) == [
        f"dativo: error: jobs/acme/deals.yaml: file not found in the project home {elsewhere.resolve()} "
        "(the current folder): pass --home or set DATIVO_HOME to the folder holding registry/, "
        "connectors/ and jobs/"
    ]
    # --config as typed from the current folder, --home for the rest
    typed = [*run[:4], "--config", f"{project.root.name}/jobs/acme/deals.yaml", "--home", project.root.name]
    result = subprocess.run(
        typed, cwd=project.root.parent, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr

    job = yaml.safe_load((REPO / "jobs" / "acme" / "postgres_orders_to_iceberg.yaml").read_text())
    job["source"]["incremental"]["cursor_feild"] = job["source"]["incremental"].pop("cursor_field")
    project.write_job("typo", job)
    result = project.dativo("validate", "--config", "jobs/acme/typo.yaml")
    assert _errors(result.stderr) == [
        "dativo: error: jobs/acme/typo.yaml: source.incremental: unknown key 'cursor_feild' "
        "(did you mean 'cursor_field'?)"
    ]


def _on_terminal(
    project: Project, args: list[str], columns: str | None, *, stream: str = "stderr"
) -> tuple[int, str]:
    """`dativo` with ``stream`` (stderr or stdout) on a pseudo-terminal (size 0x0 unless COLUMNS
    says): exit code and what the terminal received."""
    main, side = os.openpty()
    env = {**os.environ, "TERM": "xterm-256color"}
    for name in ("COLUMNS", "DATIVO_HOME", "DATIVO_LOG_FORMAT"):
        env.pop(name, None)
    if columns is not None:
        env["COLUMNS"] = columns
    command = [sys.executable, "-m", "dativo_runner", *args, "--home", str(project.root)]
    outputs = (
        {"stdout": side, "stderr": subprocess.DEVNULL}
        if stream == "stdout"
        else {"stdout": subprocess.DEVNULL, "stderr": side}
    )
    process = subprocess.Popen(command, cwd=project.root, env=env, **outputs)
    os.close(side)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    return process.wait(timeout=120), b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize("columns", [None, "40"])
def test_unknown_or_narrow_terminal_gets_plain_progress_lines(project: Project, columns: str | None) -> None:
    project.write_deals("deals_2024.csv", [DEAL])
    project.write_job("deals", project.deals_job())
    code, terminal = _on_terminal(project, ["run", "--config", "jobs/acme/deals.yaml"], columns)
    assert code == 0, terminal
    assert "[acme/deals] deals: +1 rows committed, 1 total" in terminal
    assert "\x1b[" not in terminal, "no redrawn live line"


def test_after_a_run_show_runs_and_state_show(project: Project) -> None:
    """One run, then: `show` shortens hashes and wraps, `runs` lists the records (the oldest
    beyond DATIVO_RUNS_KEEP removed), `state show` names a bad value's file and field."""
    project.write_deals("deals_2024.csv", [DEAL])
    project.write_job("deals", project.deals_job())
    logs = project.root / "state" / "acme" / "logs"
    old = {"job_name": "deals", "tenant_id": "acme", "status": "failed", "seconds": 1.5, "streams": []}
    for stamp in ("20200101T000000Z", "20200102T000000Z"):
        project.write(f"state/acme/logs/deals.{stamp}.1{RUN_SUFFIX}", json.dumps({**old, "started": stamp}))
    env = {"DATIVO_RUNS_KEEP": "2"}
    assert project.dativo("run", "--config", "jobs/acme/deals.yaml", env=env).returncode == 0
    assert len(list(logs.glob(f"deals.*{RUN_SUFFIX}"))) == 2  # the oldest record removed
    result = project.dativo("runs", "--tenant", "acme", env={"COLUMNS": "300"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0] == "20200102T000000Z acme/deals failed in 1.50s: 0 rows"
    assert re.fullmatch(
        r"\d{8}T\d{6}Z acme/deals succeeded in [\d.]+s: 1 rows -> acme\.csv_deals snapshot \d+", lines[1]
    )
    runs = json.loads(project.dativo("runs", "--config", "jobs/acme/deals.yaml", "--json").stdout)["runs"]
    assert [run["status"] for run in runs] == ["failed", "succeeded"]
    refused = project.dativo("runs", "--tenant", "../x")
    assert refused.returncode == 2 and _errors(refused.stderr)[0].startswith(
        "dativo: error: --tenant: '../x'"
    )

    code, shown = _on_terminal(project, ["show", "--config", "jobs/acme/deals.yaml"], "60", stream="stdout")
    assert code == 0, shown
    hashed = re.search(r"owner_email=([0-9a-f.]+)", shown)
    assert hashed and re.fullmatch(r"[0-9a-f]{12}\.\.\.", hashed.group(1)), shown
    assert max(len(line) for line in shown.splitlines()) <= 60, shown  # wrapped to the terminal
    piped = project.dativo("show", "--config", "jobs/acme/deals.yaml", env={"COLUMNS": "60"}).stdout
    assert max(len(line) for line in piped.splitlines()) > 60, piped  # a pipe gets whole lines
    assert re.search(r"owner_email=[0-9a-f]{12}\.\.\.", piped), piped
    full = project.dativo("show", "--config", "jobs/acme/deals.yaml", "--full", env={"COLUMNS": "60"})
    assert re.search(r"owner_email=[0-9a-f]{64},", full.stdout), full.stdout

    path = project.root / "state" / "acme" / "deals.json"
    state = json.loads(path.read_text())
    (name,) = state["bookmarks"]["deals"]["files"]
    state["bookmarks"]["deals"]["files"][name]["rows"] = "many"
    path.write_text(json.dumps(state))
    result = project.dativo("state", "show", "--config", "jobs/acme/deals.yaml")
    assert result.returncode == 2
    assert _errors(result.stderr) == [
        f"dativo: error: state/acme/deals.json: bookmarks.deals.files[{name!r}].rows: 'many' is not a row "
        "count: fix the value, or `dativo state reset` to read the file again"
    ]


def test_connectors_lists_the_registry(project: Project) -> None:
    result = project.dativo("connectors", env={"COLUMNS": "300"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "sources (8):" and "targets (4):" in lines
    assert (
        "  postgres (database, tap-postgres): PostgreSQL tables (self-hosted only); incremental: "
        "cursor_column, full_table, log_based; modes: self_hosted; auth: password"
    ) in lines
    registry = project.root / "registry" / "connectors.yaml"
    data = yaml.safe_load(registry.read_text())
    del data["registry"]["targets"]["azure_blob"]
    registry.write_text(yaml.safe_dump(data, sort_keys=False))
    listed = json.loads(project.dativo("connectors", "--json").stdout)
    assert [t["name"] for t in listed["targets"]] == ["iceberg", "s3", "minio"]
