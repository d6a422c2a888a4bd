"""`make interop-matrix-1m` at a tiny row count: each seeder (PostgreSQL COPY, MariaDB INSERTs),
each reader (target-jsonl files, target-postgres tables, target-iceberg tables) and the pipe, with
every cell read back equal to the generated one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.conftest import peer_executable
from tests.interop.matrix_large import run_pair

pytestmark = pytest.mark.integration

ROWS = 120


@pytest.mark.parametrize(
    ("tap", "target", "peer"),
    [
        ("tap-mysql", "target-jsonl", "target-jsonl"),
        ("tap-postgres", "target-postgres (MeltanoLabs)", "target-postgres"),
        ("MeltanoLabs tap-postgres", "target-iceberg", "tap-postgres"),
    ],
)
def test_pair_reads_back_every_cell(tap: str, target: str, peer: str, tmp_path: Path) -> None:
    peer_executable(peer)
    tally, line = run_pair(tap, target, ROWS, tmp_path)
    assert tally is not None, line
    assert tally.summary() == ("120→120", "720/720"), tally.example
    assert line.startswith(f"| {tap} | {target} | 120→120 | 720/720 | ")
