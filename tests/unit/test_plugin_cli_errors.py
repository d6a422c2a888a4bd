"""A tap's or target's console script: an exception that is not the user's mistake is one
``internal error in <program>`` line naming the traceback's file, never a bare message."""

from __future__ import annotations

import os
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


FINISHING = """
import atexit, logging, sys
from dativo_singer.cli import run_plugin_cli

atexit.register(lambda: sys.stderr.write("teardown ran\\n"))  # skipped with the teardown

def command():
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    for i in range(100_000):  # buffered, never flushed by the command
        sys.stdout.write(f'{{"type":"STATE","value":{{"n":{i}}}}}\\n')
    logging.getLogger("target-example").info("done")
    sys.exit(0)  # as click ends a command

run_plugin_cli("target-example", command)
"""


def test_a_finished_program_exits_0_with_every_line_of_output_and_log_written() -> None:
    """A program that finished skips the interpreter's teardown, never its output or logs."""
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # output sits in buffers
    result = subprocess.run(
        [sys.executable, "-c", FINISHING], capture_output=True, text=True, timeout=60, env=buffered
    )
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 100_000 and lines[-1] == '{"type":"STATE","value":{"n":99999}}'
    assert result.stderr.splitlines() == ["INFO:target-example:done"]


IN_PROCESS = """
import sys
from dativo_singer.cli import run_plugin_cli

def main():
    run_plugin_cli("tap-example", lambda: sys.exit(0))

def generator():  # runs the program's main() in its own process, then goes on
    try:
        main()
    except SystemExit as exc:
        print("the caller goes on after exit", exc.code)

generator()
"""


def test_a_program_run_in_another_process_returns_to_its_caller() -> None:
    result = subprocess.run([sys.executable, "-c", IN_PROCESS], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, "the caller goes on after exit 0\n")
