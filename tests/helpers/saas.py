"""Running tap-stripe / tap-hubspot against the loopback emulators and reading their output."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
# Tiny waits: the emulators answer at once, and faults should cost milliseconds, not seconds.
FAST_RETRIES = {
    "max_requests_per_second": 0,
    "backoff_base_seconds": 0.005,
    "max_backoff_seconds": 0.02,
    "request_timeout_seconds": 0.15,
    "max_tries": 10,
}


@dataclass
class TapRun:
    """Exit code, Singer messages and stderr of one tap run."""

    code: int
    messages: list[dict[str, Any]]
    stderr: str
    stdout: str

    def records(self, stream: str) -> list[dict[str, Any]]:
        """RECORD values of a stream, in order."""
        return [m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream]

    @property
    def last_state(self) -> dict[str, Any] | None:
        """The value of the last STATE message."""
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else None


def run_tap(
    program: str,
    config: dict[str, Any],
    folder: Path,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
) -> TapRun:
    """Run ``program`` with the config (and state, catalog) written into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    args = [str(BIN / program), "--config", str(_write(folder / "config.json", config))]
    if state is not None:
        args += ["--state", str(_write(folder / "state.json", state))]
    if catalog is not None:
        args += ["--catalog", str(_write(folder / "catalog.json", catalog))]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    messages = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return TapRun(done.returncode, messages, done.stderr, done.stdout)


def only_streams(program: str, config: dict[str, Any], folder: Path, streams: set[str]) -> dict[str, Any]:
    """The tap's discovered catalog with only ``streams`` selected."""
    done = subprocess.run(
        [str(BIN / program), "--config", str(_write(folder / "config.json", config)), "--discover"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    catalog = json.loads(done.stdout)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def _write(path: Path, value: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value), encoding="utf-8")
    return path
