"""Running ``tap | target``: relaying bytes, reading STATE and logs, stopping both on failure."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from dativo_runner.secrets import Redactor
from dativo_singer.commit_report import parse_commit_report

_CHUNK = 1 << 20
_ERROR_LINE = re.compile(r"^(?:[\w-]+: error: |[\w.]*(?:Error|Exception): )(.*)$")
_TAIL = 40
_RECORD_MARK = b'"type":"RECORD"'  # how singer-sdk taps write it; other spacings go uncounted
_REPORT_SECONDS = float(os.environ.get("DATIVO_PROGRESS_SECONDS") or 10)


@dataclass
class SideResult:
    """How one side (tap or target) ended."""

    name: str
    returncode: int | None = None
    stopped_by_runner: bool = False
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=_TAIL))

    def error_line(self) -> str:
        """The most telling line of its stderr: its own error line, else an exception, else the last."""
        lines = [line for line in self.tail if line.strip()]
        for line in reversed(lines):
            match = _ERROR_LINE.match(line.strip())
            if match:
                return match.group(1)
        return lines[-1].strip() if lines else f"exited with code {self.returncode}"


@dataclass
class PipeResult:
    """Both sides' results."""

    tap: SideResult
    target: SideResult

    @property
    def ok(self) -> bool:
        """True when both sides exited 0."""
        return self.tap.returncode == 0 and self.target.returncode == 0

    @property
    def failed_side(self) -> SideResult | None:
        """The side that failed on its own (not the one the runner stopped because of it)."""
        for side in (self.tap, self.target):
            if side.returncode != 0 and not side.stopped_by_runner:
                return side
        return None if self.ok else self.tap


@dataclass
class PipeCallbacks:
    """What the runner does with what flows out of the pipe."""

    on_state: Callable[[dict[str, Any]], None]
    on_commit: Callable[[dict[str, Any]], None]
    on_log: Callable[[str, str], None]
    on_read: Callable[[int], None] = lambda records: None  # records relayed so far (periodic)


def _kill(process: subprocess.Popen[bytes], side: SideResult) -> None:
    if process.poll() is None:
        side.stopped_by_runner = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _relay(
    tap: subprocess.Popen[bytes],
    target: subprocess.Popen[bytes],
    sides: tuple[SideResult, SideResult],
    on_read: Callable[[int], None],
) -> None:
    """Copy tap stdout to target stdin; close stdin only if the tap succeeded, else kill the
    target first so it never commits a partial stream it took for complete. Counts RECORD
    messages on the way (per chunk, in C) and reports them every few seconds."""
    assert tap.stdout is not None and target.stdin is not None
    source, sink = tap.stdout.fileno(), target.stdin
    records, reported_at = 0, time.monotonic()
    try:
        while chunk := os.read(source, _CHUNK):
            sink.write(chunk)
            records += chunk.count(_RECORD_MARK)
            if time.monotonic() - reported_at >= _REPORT_SECONDS:
                on_read(records)
                reported_at = time.monotonic()
    except (BrokenPipeError, OSError):
        _kill(tap, sides[0])  # the target died: nothing more can be delivered
    if tap.wait() != 0:
        _kill(target, sides[1])
    with contextlib.suppress(BrokenPipeError, OSError):
        sink.close()


def _read_logs(stream: IO[bytes], side: SideResult, redactor: Redactor, callbacks: PipeCallbacks) -> None:
    for raw in stream:
        line = redactor.redact(raw.decode("utf-8", errors="replace").rstrip("\n"))
        side.tail.append(line)
        report = parse_commit_report(line)
        if report is not None:
            callbacks.on_commit(report.to_dict())
        callbacks.on_log(side.name, line)


def _read_states(stream: IO[bytes], callbacks: PipeCallbacks, target: SideResult) -> None:
    for raw in stream:
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            continue
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            target.tail.append(f"unexpected output on stdout: {text[:200]}")
            continue
        value = message.get("value", message) if message.get("type") == "STATE" else message
        if isinstance(value, dict):
            callbacks.on_state(value)


def run_pipe(
    tap_cmd: list[str],
    target_cmd: list[str],
    *,
    env: dict[str, str],
    redactor: Redactor,
    callbacks: PipeCallbacks,
) -> PipeResult:
    """Run both programs until they end; a failed tap never lets the target see end-of-input."""
    tap_side = SideResult(os.path.basename(tap_cmd[0]))
    target_side = SideResult(os.path.basename(target_cmd[0]))
    tap = subprocess.Popen(
        tap_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True
    )
    target = subprocess.Popen(
        target_cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
        bufsize=0,
    )
    assert tap.stderr is not None and target.stderr is not None and target.stdout is not None
    threads = [
        threading.Thread(
            target=_relay, args=(tap, target, (tap_side, target_side), callbacks.on_read), daemon=True
        ),
        threading.Thread(target=_read_logs, args=(tap.stderr, tap_side, redactor, callbacks), daemon=True),
        threading.Thread(
            target=_read_logs, args=(target.stderr, target_side, redactor, callbacks), daemon=True
        ),
        threading.Thread(target=_read_states, args=(target.stdout, callbacks, target_side), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        target_side.returncode = target.wait()
        if target_side.returncode != 0:
            _kill(tap, tap_side)
        tap_side.returncode = tap.wait()
    except KeyboardInterrupt:
        _kill(tap, tap_side)
        _kill(target, target_side)
        tap.wait()
        target.wait()
        sys.stderr.write("dativo: interrupted; the state file keeps the last committed bookmark\n")
        raise
    for thread in threads:
        thread.join()
    return PipeResult(tap=tap_side, target=target_side)
