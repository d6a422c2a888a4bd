"""The pipe between a tap and a target, with small real programs on both sides."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

from dativo_runner.pipe import PipeCallbacks, PipeResult, run_pipe
from dativo_runner.secrets import Redactor


def _program(tmp_path: Path, name: str, body: str) -> list[str]:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return [sys.executable, str(path)]


def _run(tap: list[str], target: list[str]) -> tuple[PipeResult, list[dict[str, Any]], list[int]]:
    states: list[dict[str, Any]] = []
    reads: list[int] = []
    callbacks = PipeCallbacks(
        on_state=states.append,
        on_commit=lambda commit: None,
        on_log=lambda side, line: None,
        on_read=reads.append,
    )
    env = dict(os.environ)
    return run_pipe(tap, target, env=env, redactor=Redactor(), callbacks=callbacks), states, reads


TAP = """
    import sys
    sys.stdout.write('{"type":"SCHEMA","stream":"s","schema":{},"key_properties":[]}\\n')
    for i in range(3):
        sys.stdout.write('{"type": "RECORD", "stream": "s", "record": {"id": %d}}\\n' % i)
"""


def test_only_singer_state_lines_are_saved(tmp_path: Path) -> None:
    target = _program(
        tmp_path,
        "target",
        """
        import sys
        sys.stdin.read()
        print('{"bookmarks": {"s": {"n": 1}}}')
        print('{"type": "STATE", "value": {"bookmarks": {"s": {"n": 2}}}}')
        print('{"rows_written": 3}')
        print('[1, 2]')
        print('not json')
        print('{"type": "RECORD", "stream": "s", "record": {"bookmarks": {}}}')
        """,
    )
    result, states, _ = _run(_program(tmp_path, "tap", TAP), target)
    assert result.ok
    assert states == [{"bookmarks": {"s": {"n": 1}}}, {"bookmarks": {"s": {"n": 2}}}]
    ignored = [line for line in result.target.tail if line.startswith("ignored output on stdout")]
    assert len(ignored) == 4


def test_records_written_with_spaces_are_counted(tmp_path: Path) -> None:
    target = _program(tmp_path, "target", "import sys\nsys.stdin.read()\n")
    result, _, _ = _run(_program(tmp_path, "tap", TAP), target)
    assert result.tap.records == 3


def test_a_failing_tap_kills_the_target_before_end_of_input(tmp_path: Path) -> None:
    marker = tmp_path / "committed"
    tap = _program(
        tmp_path,
        "tap",
        """
        import sys
        sys.stdout.write('{"type":"RECORD","stream":"s","record":{"id":1}}\\n')
        sys.stdout.flush()
        sys.stderr.write("tap-x: error: source went away\\n")
        sys.exit(2)
        """,
    )
    target = _program(
        tmp_path,
        "target",
        f"""
        import sys
        sys.stdin.read()
        open({str(marker)!r}, "w").write("committed")  # at end of input, at once: commit
        """,
    )
    result, _, _ = _run(tap, target)
    assert not result.ok
    assert result.failed_side is result.tap
    assert result.tap.error_line() == "source went away"
    assert result.target.stopped_by_runner
    assert not marker.exists()


def test_a_failing_target_stops_the_tap_and_is_named(tmp_path: Path) -> None:
    tap = _program(
        tmp_path,
        "tap",
        """
        import sys, time
        while True:
            sys.stdout.write('{"type":"RECORD","stream":"s","record":{"id":1}}\\n')
            sys.stdout.flush()
            time.sleep(0.01)
        """,
    )
    target = _program(
        tmp_path,
        "target",
        """
        import sys
        sys.stdin.readline()
        sys.stderr.write("ValueError: cannot write\\n")
        sys.exit(2)
        """,
    )
    result, _, _ = _run(tap, target)
    assert result.failed_side is result.target
    assert result.target.error_line() == "cannot write"
    assert result.tap.stopped_by_runner


def test_exit_75_is_a_retriable_failure(tmp_path: Path) -> None:
    target = _program(
        tmp_path,
        "target",
        """
        import sys
        sys.stdin.read()
        sys.stderr.write("target-x: error: catalog unreachable\\n")
        sys.exit(75)
        """,
    )
    result, _, _ = _run(_program(tmp_path, "tap", TAP), target)
    assert result.failed_side is result.target and result.target.retriable
    assert not result.tap.retriable


KEY_ID = "dativokeyid2024"


def test_a_secret_inside_the_commit_report_prefix_does_not_hide_the_commit(tmp_path: Path) -> None:
    """An S3 key id inside the commit report's line is redacted there, and the report is still
    counted. (A secret under 12 characters is masked only where it stands as a value, never
    inside a path: docs/CONFIGURATION.md.)"""
    target = _program(
        tmp_path,
        "target",
        """
        import sys
        sys.stdin.read()
        sys.stderr.write('dativo.commit {"stream": "s", "table": "s3://b/dativokeyid2024/s/", "rows": 3}\\n')
        """,
    )
    commits: list[dict[str, Any]] = []
    logs: list[str] = []
    callbacks = PipeCallbacks(
        on_state=lambda state: None,
        on_commit=commits.append,
        on_log=lambda side, line: logs.append(line),
        on_read=lambda n: None,
    )
    redactor = Redactor()
    redactor.add(KEY_ID)
    result = run_pipe(
        _program(tmp_path, "tap", TAP), target, env=dict(os.environ), redactor=redactor, callbacks=callbacks
    )
    assert result.ok
    assert [(c["rows"], c["table"]) for c in commits] == [(3, "s3://b/****/s/")]
    assert all(KEY_ID not in line for line in logs)


SIGTERM_DURING_FORK = """
    import os, signal, sys, time
    from dativo_runner.pipe import PipeCallbacks, run_pipe
    from dativo_runner.secrets import Redactor

    sent = []

    def term_once() -> None:  # a SIGTERM that arrives while the runner forks its first program
        if not sent:
            sent.append(1)
            os.kill(os.getpid(), signal.SIGTERM)

    os.register_at_fork(after_in_parent=term_once)
    slow = [sys.executable, "-c", "import time; time.sleep(20)"]
    callbacks = PipeCallbacks(lambda s: None, lambda c: None, lambda side, line: None, lambda n: None)
    began = time.monotonic()
    result = run_pipe(slow, slow, env=dict(os.environ), redactor=Redactor(), callbacks=callbacks)
    print(result.stopped_by, round(time.monotonic() - began))
"""


def test_a_sigterm_while_the_programs_start_still_stops_the_run(tmp_path: Path) -> None:
    """Raised inside a fork hook, the stop was printed as "Exception ignored" and lost: the run
    went on to its end (found by the crash trials)."""
    import subprocess

    done = subprocess.run(_program(tmp_path, "runner", SIGTERM_DURING_FORK), capture_output=True, text=True,
                          timeout=60)
    stopped_by, seconds = done.stdout.split()
    assert stopped_by == str(int(signal.SIGTERM)), done.stdout + done.stderr
    assert int(seconds) < 10 and "Exception ignored" not in done.stderr, done.stderr
