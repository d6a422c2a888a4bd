"""A tap's or target's console script: an exception that is not the user's mistake is one
``internal error in <program>`` line naming the traceback's file, never a bare message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGRAM = """
import pyarrow as pa
from dativo_singer.cli import run_plugin_cli

def command():
    pa.concat_tables([pa.table({"a": pa.array(["x"], pa.large_string())}), pa.table({"a": ["y"]})])

run_plugin_cli("target-example", command)
"""


def test_an_internal_error_is_one_line_with_the_traceback_in_a_private_file(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        capture_output=True,
        text=True,
        env={"DATIVO_LOG_DIR": str(logs), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("target-example: error: internal error in target-example: ArrowInvalid: ")
    [log] = logs.iterdir()
    assert line.endswith(f"(traceback in {log})")
    assert log.stat().st_mode & 0o777 == 0o600
    text = log.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "concat_tables" in text
