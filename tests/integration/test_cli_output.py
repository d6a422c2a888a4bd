"""What `dativo` prints on stderr: a live progress line on a terminal, plain lines otherwise, and
one JSON object per line with --log-format json (secrets masked in every format)."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.project import Project

pytestmark = pytest.mark.integration

SECRET = "sk_live_Qp7UxLogFormatSecret"
ROW = "1,A - X,A,proposal,10.00,USD,0.5,false,a@example.com,2024-01-01T00:00:00Z,"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _job(project: Project, name: str, catalog_uri: str | None = None, secret: bool = False) -> Path:
    warehouse = project.root / f"warehouse-{name}"
    warehouse.mkdir(exist_ok=True)
    catalog = {
        "type": "sql",
        "uri": catalog_uri or f"sqlite:///{warehouse}/catalog.db",
        "warehouse": warehouse.as_uri(),
    }
    if secret:
        catalog["s3.secret-access-key"] = "${WAREHOUSE_SECRET}"
    return project.write_job(name, project.deals_job(target={"catalog": catalog}))


def _on_terminal(project: Project, *args: str) -> tuple[int, str, str]:
    """Run `dativo` with stderr on a pseudo-terminal: exit code, stdout, raw terminal output."""
    main, side = os.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "160"}
    env.pop("DATIVO_HOME", None)
    env.pop("DATIVO_LOG_FORMAT", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "dativo_runner", *args, "--home", str(project.root)],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=side,
        stdin=subprocess.DEVNULL,
    )
    os.close(side)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    os.close(main)
    out = process.stdout.read().decode() if process.stdout else ""
    return process.wait(timeout=30), out, b"".join(chunks).decode(errors="replace")


def test_a_terminal_gets_a_live_progress_line(project: Project) -> None:
    """(Plain lines on a pipe: tests/unit/test_dockerfile.py's run checks them, one run fewer.)"""
    project.write_deals("a.csv", [ROW, ROW.replace("1,A", "2,B", 1)])
    live_job = _job(project, "live")

    code, stdout, terminal = _on_terminal(project, "run", "--config", str(live_job))
    assert code == 0, terminal
    assert "succeeded" in stdout
    assert ANSI.search(terminal), "the live line is redrawn with terminal control sequences"
    text = ANSI.sub("", terminal)
    assert re.search(r"acme/live\s+deals\s+2 rows\s.*rows/s\s+\d+:\d\d:\d\d", text), text
    assert "rows committed" not in text, "no plain progress lines on a terminal"


def _json_lines(stderr: str) -> list[dict[str, object]]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, "expected stderr lines"
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    for record in parsed:
        assert {"ts", "level", "event", "job", "stream", "message"} <= record.keys(), record
    return parsed


def test_log_format_json_gives_only_json_lines_with_secrets_masked(project: Project) -> None:
    project.write("secrets/acme/warehouse.env", f"WAREHOUSE_SECRET={SECRET}\n")
    project.write_deals("a.csv", [ROW])
    job = _job(project, "deals", secret=True)

    ok = project.dativo("--log-format", "json", "run", "--config", str(job), "--secrets-dir", "secrets", "-v")
    assert ok.returncode == 0, ok.stderr
    records = _json_lines(ok.stderr)
    commits = [r for r in records if r["event"] == "commit"]
    assert commits and commits[-1]["stream"] == "deals" and commits[-1]["total"] == 1
    assert commits[-1]["job"] == "acme/deals"
    assert any(r["event"] == "connector_log" for r in records), "--verbose forwards tap/target lines"
    assert SECRET not in ok.stderr and SECRET not in ok.stdout

    # A failing catalog whose URL holds the secret: the one-line error is JSON and masked; the
    # format comes from the environment variable this time.
    bad = _job(project, "bad", catalog_uri="postgresql+psycopg2://u:${WAREHOUSE_SECRET}@127.0.0.1:9/x")
    failed = project.dativo(
        "run", "--config", str(bad), "--secrets-dir", "secrets", env={"DATIVO_LOG_FORMAT": "json"}
    )
    assert failed.returncode == 2
    errors = [r for r in _json_lines(failed.stderr) if r["level"] == "error"]
    assert len(errors) == 1 and "bad.yaml" in str(errors[0]["message"])
    assert errors[0]["job"] == "acme/bad"
    assert SECRET not in failed.stderr and SECRET not in failed.stdout

    usage = project.dativo("run", "--log-format", "json")
    assert usage.returncode == 2
    assert _json_lines(usage.stderr)[0]["event"] == "usage_error"

    wrong = project.dativo("validate", "--all", env={"DATIVO_LOG_FORMAT": "yaml"})
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == "dativo: error: DATIVO_LOG_FORMAT: 'yaml' is not one of text, json"
