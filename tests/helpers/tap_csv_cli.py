"""Running the standalone `tap-csv` console script in tests, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

TAP = Path(sys.executable).with_name("tap-csv")


def run_tap(tmp_path: Path, config: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `tap-csv --config <tmp_path>/config.json ARGS`; warnings and errors only on stderr."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return subprocess.run(
        [str(TAP), "--config", str(path), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TAP_CSV_LOGLEVEL": "WARNING"},
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single `tap-csv: error:` line of a run that exited 2 without a traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("tap-csv: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def messages(stdout: str, kind: str) -> list[dict[str, Any]]:
    """The Singer messages of one type (RECORD, SCHEMA, STATE) in a tap's output."""
    parsed = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return [m for m in parsed if m["type"] == kind]


def records(stdout: str) -> list[dict[str, Any]]:
    """The record bodies of a tap's output; each carries a 16-hex-digit ``_sdc_source_version``
    (checked here, then left out: it is a checksum, compared by the tests that need it)."""
    bodies = []
    for message in messages(stdout, "RECORD"):
        record = dict(message["record"])
        version = record.pop("_sdc_source_version")
        assert isinstance(version, str) and len(version) == 16 and int(version, 16) >= 0
        bodies.append(record)
    return bodies
