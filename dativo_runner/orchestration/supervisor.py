"""Starting and stopping Dagster's webserver and daemon for `dativo start orchestrated`.

Each runs in a process group of its own; their code servers, run workers and every
``dativo run | tap | target`` below them stay in that group. Their output is relayed to stderr
line by line. The UI's address is printed once the webserver answers. SIGTERM or SIGINT to
`dativo start` sends SIGTERM to both groups (a run in progress stops its target first, then its
tap), waits, and kills whatever is left, so no process outlives the command; what they print
while stopping (interrupted runs' tracebacks) goes to ``DAGSTER_HOME/stop.log``, not the terminal.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from dativo_runner.errors import EXIT_FAILURE, EXIT_OK, ConfigError
from dativo_runner.orchestration.instance import process_environment, write_instance
from dativo_runner.orchestration.runner_yaml import RunnerConfig

GRACE_SECONDS = 20.0
_POLL_SECONDS = 0.5
_PR_SET_PDEATHSIG = 1


def check_port_free(host: str, port: int) -> None:
    """Refuse a port something else listens on (one line, before anything starts)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As the webserver binds: a port whose last connections are in TIME_WAIT (a stop a
        # moment ago) is free; one with a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _only_user_of(dagster_home: Path) -> Iterator[None]:
    """Refuse a second `dativo start` on the same instance (two daemons would launch every
    scheduled run twice); the lock goes with the process, however it ends."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    with (dagster_home / ".dativo-start.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(
                f"{dagster_home}: another `dativo start orchestrated` uses this Dagster instance"
            ) from None
        yield


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_groups(processes: list[subprocess.Popen[bytes]], grace: float = GRACE_SECONDS) -> None:
    """SIGTERM every group, wait up to ``grace`` seconds for all of them, then SIGKILL the rest."""
    groups = [p.pid for p in processes]  # each leader's pid is its group id (start_new_session)
    for pgid in groups:
        _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        for process in processes:
            process.poll()
        if not any(_group_alive(pgid) for pgid in groups):
            return
        time.sleep(0.2)
    for pgid in groups:
        _signal_group(pgid, signal.SIGKILL)
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def _stop_with_parent() -> None:
    """In the child before exec: receive SIGTERM if `dativo start` dies without stopping it
    (SIGKILL, a crash), so Dagster never outlives the command (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class OutputRelay:
    """Copies the webserver's and the daemon's output to stderr; after `quiet()`, to a file."""

    def __init__(self, quiet_file: Path) -> None:
        self.quiet_file = quiet_file
        self._sink: IO[bytes] | None = None
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def follow(self, stream: IO[bytes]) -> None:
        """Relay ``stream`` (a child's stdout) until it ends."""
        thread = threading.Thread(target=self._relay, args=(stream,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _relay(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            with self._lock:
                out = self._sink or sys.stderr.buffer
                out.write(line)
                out.flush()
        stream.close()

    def quiet(self) -> None:
        """From now on, write to ``quiet_file`` (the shutdown output is not the operator's)."""
        with self._lock:
            self._sink = self.quiet_file.open("wb")

    def close(self, timeout: float = 5.0) -> None:
        """Wait for the streams to end (their processes are gone), then close the file."""
        for thread in self._threads:
            thread.join(timeout)
        with self._lock:
            if self._sink is not None:
                self._sink.close()


def answers(url: str) -> bool:
    """Whether an HTTP server answers ``url`` with 200."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def _program(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def commands(workspace: Path, host: str, port: int) -> dict[str, list[str]]:
    """The webserver's and the daemon's command lines."""
    return {
        "dagster-webserver": [
            _program("dagster-webserver"),
            "-h",
            host,
            "-p",
            str(port),
            "-w",
            str(workspace),
        ],
        "dagster-daemon": [_program("dagster-daemon"), "run", "-w", str(workspace)],
    }


def serve(
    config: RunnerConfig,
    host: str,
    port: int,
    *,
    say: Callable[[str], None],
) -> int:
    """Run the webserver and the daemon until SIGTERM/SIGINT (exit 0) or until one of them exits
    on its own (both are stopped; exit 2 naming it)."""
    check_port_free(host, port)
    with _only_user_of(config.dagster_home):
        return _serve(config, host, port, say=say)


def _serve(config: RunnerConfig, host: str, port: int, *, say: Callable[[str], None]) -> int:
    workspace = write_instance(config)
    env = process_environment(config)
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    relay = OutputRelay(config.dagster_home / "stop.log")
    address = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    serving = False
    died: str | None = None
    try:
        for name, cmd in commands(workspace, host, port).items():
            processes[name] = process = subprocess.Popen(
                cmd,
                env=env,
                cwd=config.home.root,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_stop_with_parent,
            )
            assert process.stdout is not None
            relay.follow(process.stdout)
        while not stop.is_set():
            for name, process in processes.items():
                if process.poll() is not None:
                    died = f"{name} exited with code {process.returncode}"
            if died:
                break
            if not serving and answers(f"{address}/server_info"):
                serving = True
                say(
                    f"orchestrated mode: Dagster UI at {address} "
                    f"({len(config.schedules)} schedule(s), DAGSTER_HOME {config.dagster_home}); "
                    "SIGTERM or Ctrl-C stops it"
                )
            stop.wait(_POLL_SECONDS)
    finally:
        if received:
            relay.quiet()
        stop_groups(list(processes.values()))
        relay.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if died is not None and not received:
        raise ConfigError(f"orchestrated mode stopped: {died} (see its output above)")
    say(f"orchestrated mode stopped ({signal.Signals(received[0]).name if received else 'exit'})")
    return EXIT_OK if received else EXIT_FAILURE
