"""`python -m tests.emulators google`: the Google emulator served as a program, seeded as the
tests seed it, with tap configs a user runs the Google taps with as written."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _records(tap: str, config: Path) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-c", f"from {tap}.tap import main; main()", "--config", str(config)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    return [m["record"] for m in messages if m["type"] == "RECORD"]


def test_google_emulator_program_serves_the_seeded_drive_and_sheets(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.emulators", "google", "--config-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("google emulator on http://127.0.0.1:")
        assert "tap-google-sheets.json" in first
        vendors = _records("tap_google_sheets", tmp_path / "tap-google-sheets.json")
        deals = _records("tap_gdrive_csv", tmp_path / "tap-gdrive-csv.json")
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    assert sorted(r["vendor_id"] for r in vendors) == [101, 102, 103, 201, 202]
    assert sorted(r["deal_id"] for r in deals) == [1, 2, 3, 4, 5, 6]
    assert (tmp_path / "tap-gdrive-csv.json").stat().st_mode & 0o077 == 0  # holds a key
