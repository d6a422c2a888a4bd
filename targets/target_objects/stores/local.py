"""A local folder as the object store (``storage: local``): keys are relative paths."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dativo_singer.errors import FatalError
from target_objects.stores import ObjectStore, StoredObject


class LocalStore(ObjectStore):
    """Objects as files below ``local_dir``; written to a temporary name, then renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LocalStore:
        """From ``local_dir``."""
        return cls(Path(str(config.get("local_dir") or "objects")).resolve())

    def url(self, key: str) -> str:
        return str(self.root / key)

    def check(self) -> None:
        for path in (self.root, *self.root.parents):
            if path.exists():
                if not path.is_dir():
                    raise FatalError(f"local_dir {self.root}: {path} is not a folder")
                if not os.access(path, os.W_OK):
                    raise FatalError(f"local_dir {self.root}: {path} cannot be written")
                return

    def _write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)

    def put_file(self, key: str, path: Path, content_type: str, metadata: Mapping[str, str]) -> None:
        self._write(key, path.read_bytes())

    def put_bytes(self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> None:
        self._write(key, data)

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def list_objects(self, prefix: str) -> list[StoredObject]:
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return []
        found = []
        for path in base.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key.startswith(prefix) and not path.name.startswith(".tmp-"):
                stat = path.stat()
                found.append(StoredObject(key, stat.st_size, stat.st_mtime))
        return sorted(found, key=lambda o: o.key)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            (self.root / key).unlink(missing_ok=True)
