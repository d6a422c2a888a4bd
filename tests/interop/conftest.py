"""Fixtures for the interop tests: peer programs in their own venvs under ``.peers/`` (made by
``scripts/peers.sh install``, a dependency of ``make test``), our own programs as executables,
and a pyiceberg reader of the embedded catalog target-iceberg writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PEERS_DIR = Path(os.environ.get("DATIVO_PEERS_DIR") or REPO / ".peers")

OUR_PROGRAMS = {
    "tap-csv": "from tap_csv.tap import main; main()",
    "tap-postgres": "from tap_postgres.tap import main; main()",
    "target-iceberg": "from target_iceberg.target import main; main()",
}


def peer_executable(venv: str, program: str | None = None) -> Path:
    """``.peers/<venv>/bin/<program>``; skipped with a hint when the peers are not installed
    (a failure under CI, where ``make test`` installs them first)."""
    path = PEERS_DIR / venv / "bin" / (program or venv)
    if not path.exists():
        message = f"{path} is missing: run scripts/peers.sh install (or make peers)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def our_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``tap-csv``, ``tap-postgres`` and ``target-iceberg`` executables that run this checkout's code
    with the test's interpreter (and its PYTHONPATH), so peers and Meltano call them like any
    installed Singer program without installing our package again."""
    folder = tmp_path_factory.mktemp("our-bin")
    pythonpath = os.environ.get("PYTHONPATH", "")
    for name, code in OUR_PROGRAMS.items():
        script = folder / name
        exports = f"export PYTHONPATH='{pythonpath}'\n" if pythonpath else ""
        script.write_text(f"#!/bin/sh\n{exports}exec '{sys.executable}' -c '{code}' \"$@\"\n")
        script.chmod(0o755)
    return folder


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a peer: without our PYTHONPATH (peers import only their own venv)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def run(
    args: list[str | Path],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[bytes]:
    """Run a program; fail with its stderr tail when it exits non-zero."""
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env or clean_env(),
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(str(a) for a in args)} exited {result.returncode}:\n"
            f"{result.stderr.decode(errors='replace')[-4000:]}"
        )
    return result


def pipe(
    tap: list[str | Path],
    target: list[str | Path],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 180,
) -> tuple[bytes, bytes]:
    """``tap | target`` as two processes joined by a pipe; returns (tap stdout, target stdout).
    The tap's output is kept (tests inspect the messages) and fed to the target."""
    tapped = run(tap, cwd=cwd, env=env, timeout=timeout)
    loaded = run(target, cwd=cwd, env=env, stdin=tapped.stdout, timeout=timeout)
    return tapped.stdout, loaded.stdout


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value))
    return path


def iceberg_table(warehouse_dir: Path, identifier: str) -> Any:
    """The table as pyiceberg sees it through the embedded SQLite catalog of ``warehouse_dir``."""
    from pyiceberg.catalog import load_catalog

    root = warehouse_dir.resolve()
    # A SQL catalog keys its tables by catalog name: target-iceberg's embedded one is "dativo".
    catalog = load_catalog(
        "dativo", type="sql", uri=f"sqlite:///{root / 'catalog.db'}", warehouse=root.as_uri()
    )
    return catalog.load_table(identifier)


def iceberg_rows(warehouse_dir: Path, identifier: str, order_by: str) -> list[dict[str, Any]]:
    """Every row of the table as Python values, ordered by one column."""
    rows = iceberg_table(warehouse_dir, identifier).scan().to_arrow().to_pylist()
    return sorted(rows, key=lambda r: r[order_by])
