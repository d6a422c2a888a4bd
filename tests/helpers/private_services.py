"""A private instance of a local service for tests that stop or restart it: its own
``DATIVO_SERVICES_DIR`` (a fresh folder under /tmp, traversable by the postgres/mysql users) and
free ports through the ``DATIVO_*_PORT`` overrides, started and stopped with
``scripts/services.sh`` (docs/SERVICES.md). The shared services are never touched."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests import services

# Offsets from a base port: SeaweedFS's S3, REST, master (+1 gRPC), volume (+1), filer (+1),
# S3 gRPC, admin http (its gRPC is +10000), then PostgreSQL, Azurite and MariaDB.
_BLOCK = 13
_ADMIN_HTTP = 9


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((services.HOST, port))
        except OSError:
            return False
    return True


def _free_base() -> int:
    """A base port whose block (and the admin gRPC port) is free now."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((services.HOST, 0))
            base = sock.getsockname()[1]
        if base + _BLOCK + 10_000 > 65_000:
            continue
        ports = [base + i for i in range(_BLOCK)] + [base + _ADMIN_HTTP + 10_000]
        if all(_free(p) for p in ports):
            return base
    raise RuntimeError("no free block of ports on 127.0.0.1")


class PrivateServices:
    """``scripts/services.sh`` on a private folder and private ports; ``env`` holds the overrides
    (also for `tests.services` look-ups: use ``info``)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="dativo-faults-"))
        self.root.chmod(0o755)
        base = _free_base()
        self.env = {
            "DATIVO_SERVICES_DIR": str(self.root),
            "DATIVO_S3_PORT": str(base),
            "DATIVO_ICEBERG_REST_PORT": str(base + 1),
            "DATIVO_SEAWEEDFS_MASTER_PORT": str(base + 2),
            "DATIVO_SEAWEEDFS_VOLUME_PORT": str(base + 4),
            "DATIVO_SEAWEEDFS_FILER_PORT": str(base + 6),
            "DATIVO_SEAWEEDFS_S3_GRPC_PORT": str(base + 8),
            "DATIVO_SEAWEEDFS_ADMIN_GRPC_PORT": str(base + _ADMIN_HTTP + 10_000),
            "DATIVO_PG_PORT": str(base + 10),
            "DATIVO_AZURITE_BLOB_PORT": str(base + 11),
            "DATIVO_MYSQL_PORT": str(base + 12),
        }
        self.started: set[str] = set()

    def script(self, command: str, name: str, timeout: float = 240) -> None:
        """``scripts/services.sh COMMAND NAME`` with the private overrides."""
        env = {**os.environ, **self.env}
        if "DATIVO_PYTHON" not in env and not (services.REPO / ".venv").exists():
            env["DATIVO_PYTHON"] = sys.executable
        done = subprocess.run(
            ["bash", str(services.SERVICES_SCRIPT), command, name],
            capture_output=True, text=True, timeout=timeout, env=env, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"services.sh {command} {name} (private) failed: {done.stderr[-2000:]}")
        if command in ("start", "restart"):
            self.started.add(name)

    def start(self, name: str) -> None:
        self.script("start", name)

    def stop(self, name: str) -> None:
        self.script("stop", name)

    def restart(self, name: str) -> float:
        """Stop then start ``name``; the seconds it was down."""
        began = time.monotonic()
        self.stop(name)
        self.start(name)
        return time.monotonic() - began

    def info(self, name: str) -> Any:
        """The service's connection info on the private ports."""
        with _patched_env(self.env):
            return services.service_info(name)

    def close(self) -> None:
        for name in sorted(self.started):
            with contextlib.suppress(Exception):
                self.stop(name)
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def _patched_env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def private_services(*names: str) -> Iterator[PrivateServices]:
    """Start ``names`` privately; stop them (and remove their folder) afterwards."""
    instance = PrivateServices()
    try:
        for name in names:
            instance.start(name)
        yield instance
    finally:
        instance.close()
