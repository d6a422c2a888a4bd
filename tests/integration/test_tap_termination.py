"""A tap stopped by SIGTERM or SIGINT says so with its exit code (singer-sdk's default exits 0
half-way, and the run would look complete)."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from tests.helpers.tap_csv_cli import TAP

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_tap_exits_non_zero(tmp_path: Path, signum: int) -> None:
    data = tmp_path / "big.csv"
    data.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(300_000)))
    config = tmp_path / "config.json"
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
    config.write_text(json.dumps({"files": [{"object": "t", "path": str(data)}], "schemas": {"t": schema}}))
    proc = subprocess.Popen(
        [str(TAP), "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until records flow
        if b'"RECORD"' in line:
            break
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err.decode()[-2000:]
    assert f"Received {signal.Signals(signum).name}: stopping" in err.decode()
