"""Running ``tap | target``: relaying bytes, reading STATE and logs, stopping both on failure."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from dativo_runner.pipe_counts import StreamCounts
from dativo_runner.secrets import Redactor
from dativo_runner.state_store import is_singer_state
from dativo_singer.commit_report import parse_commit_report

_CHUNK = 1 << 20
_ERROR_LINE = re.compile(r"^(?:[\w-]+: error: |[\w.]*(?:Error|Exception): )(.*)$")
_TAIL = 40
_PR_SET_PDEATHSIG = 1


EXIT_RETRIABLE = 75  # EX_TEMPFAIL: what a tap or target exits with when a retry may succeed
_TARGET_EXIT_GRACE = 10.0  # seconds a target that closed its input has to exit
_REPORT_SECONDS = float(os.environ.get("DATIVO_PROGRESS_SECONDS") or 10)


@dataclass
class SideResult:
    """How one side (tap or target) ended."""

    name: str
    returncode: int | None = None
    stopped_by_runner: bool = False
    records: int = 0  # RECORD messages relayed (tap side)
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=_TAIL))

    @property
    def retriable(self) -> bool:
        """True when the program said the failure is transient (exit 75)."""
        return self.returncode == EXIT_RETRIABLE and not self.stopped_by_runner

    def error_line(self) -> str:
        """The most telling line of its stderr: its own error line, else an exception, else the
        signal that killed it, else the last line."""
        lines = [line for line in self.tail if line.strip()]
        for line in reversed(lines):
            match = _ERROR_LINE.match(line.strip())
            if match:
                return match.group(1)
        if self.returncode is not None and self.returncode < 0:
            return f"killed by {signal.Signals(-self.returncode).name}"
        return lines[-1].strip() if lines else f"exited with code {self.returncode}"


@dataclass
class PipeResult:
    """Both sides' results."""

    tap: SideResult
    target: SideResult
    stopped_by: int | None = None  # the signal that stopped the runner, if one did
    state_error: str | None = None  # a STATE the target committed could not be saved
    counts: StreamCounts = field(default_factory=StreamCounts)  # rows per stream, at the pipe

    @property
    def ok(self) -> bool:
        """True when both sides exited 0 and every STATE was saved."""
        return (
            self.tap.returncode == 0
            and self.target.returncode == 0
            and self.stopped_by is None
            and self.state_error is None
        )

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
            process.kill()


def _relay(
    tap: subprocess.Popen[bytes],
    target: subprocess.Popen[bytes],
    sides: tuple[SideResult, SideResult],
    on_read: Callable[[int], None],
    counts: StreamCounts,
) -> None:
    """Copy tap stdout to target stdin; close stdin only if the tap succeeded, else kill the
    target first so it never commits a partial stream it took for complete. Counts the rows of
    RECORD and BATCH messages per stream on the way (``counts``), and reports them every few
    seconds."""
    assert tap.stdout is not None and target.stdin is not None
    source, sink = tap.stdout.fileno(), target.stdin
    reported_at = time.monotonic()
    try:
        while chunk := os.read(source, _CHUNK):
            # Counted before it is written: a STATE in it is known before the target echoes it.
            sides[0].records += counts.feed(chunk)
            sink.write(chunk)
            if time.monotonic() - reported_at >= _REPORT_SECONDS:
                on_read(sides[0].records)
                reported_at = time.monotonic()
        sides[0].records += counts.finish()
    except (BrokenPipeError, OSError):
        target_closed = True
        _kill(tap, sides[0])  # the target died: nothing more can be delivered
    else:
        target_closed = False
    tap_failed = tap.wait() != 0
    if target_closed:
        # Its stdin is closed because it is exiting on its own: let it finish (it may not be
        # reaped yet), so its own exit code, not our kill, is what the run reports.
        try:
            target.wait(timeout=_TARGET_EXIT_GRACE)
        except subprocess.TimeoutExpired:
            _kill(target, sides[1])
    elif tap_failed:
        _kill(target, sides[1])
    with contextlib.suppress(BrokenPipeError, OSError):
        sink.close()


def _read_logs(
    stream: IO[bytes],
    side: SideResult,
    redactor: Redactor,
    callbacks: PipeCallbacks,
    counts: StreamCounts | None = None,
) -> None:
    """Relay a side's stderr lines; the target's commit reports and (``counts``, tap side) the
    tap's METRIC lines are read on the way."""
    for raw in stream:
        text = raw.decode("utf-8", errors="replace").rstrip("\n")
        if counts is not None:
            counts.tap_log(text)
        line = redactor.redact(text)
        side.tail.append(line)
        # Parsed before redaction: a secret that happens to be "dativo" (or a report key) would
        # otherwise mask the line's prefix and the commit would go uncounted.
        report = parse_commit_report(text)
        if report is not None:
            values = report.to_dict().items()
            callbacks.on_commit({k: redactor.redact(v) if isinstance(v, str) else v for k, v in values})
        callbacks.on_log(side.name, line)


def _read_states(
    stream: IO[bytes],
    callbacks: PipeCallbacks,
    result: PipeResult,
    target: subprocess.Popen[bytes],
    tap: subprocess.Popen[bytes],
) -> None:
    """Singer targets print the state value they have committed, one JSON line each (some wrap
    it in a STATE message). Only a Singer state (see ``is_singer_state``) is saved; anything else
    printed on stdout is noted in the target's log tail."""
    for raw in stream:
        text = raw.decode("utf-8", errors="replace").strip()
        if not text:
            continue
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            message = None
        if isinstance(message, dict) and message.get("type") == "STATE":
            message = message.get("value")
        if not is_singer_state(message):
            result.target.tail.append(f"ignored output on stdout (not a STATE message): {text[:200]}")
            continue
        if result.state_error is not None:
            continue
        try:
            callbacks.on_state(message)
            result.counts.target_committed(message)
        except Exception as exc:  # the state folder is gone, full, read-only...: stop the run
            result.state_error = str(exc)
            _kill(target, result.target)
            _kill(tap, result.tap)


def _die_with_parent() -> None:
    """In the child before exec: be killed when the runner dies, however it dies (Linux), so a
    target never outlives the runner and commits what nobody will record."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class _Stopped(Exception):
    """The runner received SIGTERM (or SIGHUP) while the pipe ran."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _StopSignals:
    """The SIGTERM / SIGHUP handler. While the programs start it only notes the signal: an
    exception raised there can land in a fork hook (logging's lock release after ``fork``), where
    Python prints "Exception ignored" and drops it, and the run went on as if never stopped.
    ``arm`` (once the pipe is waited on) raises a noted signal, and later ones interrupt the wait."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.armed = False

    def __call__(self, signum: int, frame: object) -> None:
        self.signum = signum
        if self.armed:
            raise _Stopped(signum)

    def arm(self) -> None:
        self.armed = True
        if self.signum is not None:
            raise _Stopped(self.signum)


@contextlib.contextmanager
def _signals_stop_the_pipe() -> Iterator[_StopSignals | None]:
    """SIGTERM and SIGHUP interrupt the wait like Ctrl-C does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    stops = _StopSignals()
    previous = {sig: signal.signal(sig, stops) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield stops
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_pipe(
    tap_cmd: list[str],
    target_cmd: list[str],
    *,
    env: dict[str, str],
    redactor: Redactor,
    callbacks: PipeCallbacks,
) -> PipeResult:
    """Run both programs until they end; a failed tap never lets the target see end-of-input.

    Both programs stay in the runner's process group (a signal to the group reaches them) and
    are killed if the runner dies. SIGINT, SIGTERM or SIGHUP to the runner kill the target first
    (it commits nothing more), then the tap; the result says which signal stopped the run."""
    tap_side = SideResult(os.path.basename(tap_cmd[0]))
    target_side = SideResult(os.path.basename(target_cmd[0]))
    result = PipeResult(tap=tap_side, target=target_side)
    with _signals_stop_the_pipe() as stops:
        tap = subprocess.Popen(
            tap_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=_die_with_parent
        )
        target = subprocess.Popen(
            target_cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            preexec_fn=_die_with_parent,
            bufsize=0,
        )
        assert tap.stderr is not None and target.stderr is not None and target.stdout is not None
        threads = [
            threading.Thread(
                target=_relay,
                args=(tap, target, (tap_side, target_side), callbacks.on_read, result.counts),
                daemon=True,
            ),
            threading.Thread(
                target=_read_logs,
                args=(tap.stderr, tap_side, redactor, callbacks, result.counts),
                daemon=True,
            ),
            threading.Thread(
                target=_read_logs, args=(target.stderr, target_side, redactor, callbacks), daemon=True
            ),
            threading.Thread(
                target=_read_states, args=(target.stdout, callbacks, result, target, tap), daemon=True
            ),
        ]
        for thread in threads:
            thread.start()
        try:
            if stops is not None:
                stops.arm()
            target_side.returncode = target.wait()
            if target_side.returncode != 0:
                _kill(tap, tap_side)
            tap_side.returncode = tap.wait()
        except (KeyboardInterrupt, _Stopped) as exc:
            _kill(target, target_side)  # first: it must not commit anything more
            _kill(tap, tap_side)
            target_side.returncode, tap_side.returncode = target.wait(), tap.wait()
            result.stopped_by = exc.signum if isinstance(exc, _Stopped) else signal.SIGINT
    for thread in threads:
        thread.join()
    return result
