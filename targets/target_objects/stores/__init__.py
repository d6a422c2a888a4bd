"""Where data files and manifests are put: one small ``ObjectStore`` interface, three backends
(S3-compatible, Azure Blob, a local folder), each importing its client library only when used."""

from __future__ import annotations

import importlib
import logging
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from dativo_singer.errors import FatalError, RetriableError
from dativo_singer.service_retry import call_with_retries

T = TypeVar("T")

_BACKENDS = {
    "s3": ("target_objects.stores.s3", "S3Store", "boto3"),
    "azure": ("target_objects.stores.azure", "AzureBlobStore", "azure-storage-blob"),
    "local": ("target_objects.stores.local", "LocalStore", ""),
}


@dataclass(frozen=True)
class StoredObject:
    """One object as listed: its key, size in bytes and last-modified time (POSIX seconds)."""

    key: str
    size: int
    modified: float


class ObjectStore(ABC):
    """A bucket (or container, or folder) that holds objects by key."""

    @abstractmethod
    def url(self, key: str) -> str:
        """The object's URL as readers name it (``s3://bucket/key``, ``az://container/key``)."""

    @abstractmethod
    def check(self) -> None:
        """Fail with one clear line when the bucket is missing, the credentials are wrong or the
        service is unreachable (``FatalError`` / ``RetriableError``). Writes nothing."""

    @abstractmethod
    def put_file(self, key: str, path: Path, content_type: str, metadata: Mapping[str, str]) -> None:
        """Upload a local file as ``key``, with metadata."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> None:
        """Write ``data`` as ``key``, with metadata."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's content."""

    @abstractmethod
    def list_objects(self, prefix: str) -> list[StoredObject]:
        """Every object whose key starts with ``prefix``, sorted by key."""

    @abstractmethod
    def delete(self, keys: list[str]) -> None:
        """Remove objects (missing ones are ignored)."""


def header_safe(metadata: Mapping[str, str]) -> dict[str, str]:
    """Metadata values as HTTP headers carry them: non-ASCII and control characters
    percent-encoded (UTF-8)."""
    return {k: urllib.parse.quote(v, safe=" !#$&'()*+,-./:;<=>?@[]^_`{|}~") for k, v in metadata.items()}


def object_url(config: Mapping[str, Any], key: str) -> str:
    """An object's URL as its store names it, without opening the store."""
    storage = str(config.get("storage") or "local")
    if storage == "local":
        return str(Path(str(config.get("local_dir") or "objects")).resolve() / key)
    return f"{'s3' if storage == 's3' else 'az'}://{config.get('bucket')}/{key}"


def open_store(config: Mapping[str, Any], *, retrying: bool = False) -> ObjectStore:
    """The backend named by ``storage``, built from the target config; ``retrying``: its calls
    are retried while the service is unreachable (the target, mid-run; not the runner's
    look-ups before a run, which fail at once)."""
    storage = str(config.get("storage") or "local")
    module_name, class_name, package = _BACKENDS[storage]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FatalError(
            f"storage {storage} needs the {package} package: pip install {package} ({exc})"
        ) from None
    store: ObjectStore = getattr(module, class_name).from_config(config)
    return RetryingStore(store) if retrying and storage != "local" else store


class RetryingStore(ObjectStore):
    """A store whose calls are retried within the service budget while the service is
    unreachable (``RetriableError``: refused, dropped, 5xx, throttled). Every call is idempotent
    (a put writes the same bytes under the same key), so a retry never adds anything twice."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.logger = logging.getLogger("target-objects")

    def _retried(self, what: str, action: Callable[[], T]) -> T:
        return call_with_retries(
            action,
            service=f"object store {self.store.url('')}",
            what=what,
            logger=self.logger,
            transient=lambda exc: isinstance(exc, RetriableError),
        )

    def url(self, key: str) -> str:
        return self.store.url(key)

    def check(self) -> None:
        """At start-up, not retried: nothing is under way, and a wrong endpoint fails at once."""
        self.store.check()

    def put_file(self, key: str, path: Path, content_type: str, metadata: Mapping[str, str]) -> None:
        self._retried(f"writing {key}", lambda: self.store.put_file(key, path, content_type, metadata))

    def put_bytes(self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> None:
        self._retried(f"writing {key}", lambda: self.store.put_bytes(key, data, content_type, metadata))

    def get(self, key: str) -> bytes:
        return self._retried(f"reading {key}", lambda: self.store.get(key))

    def list_objects(self, prefix: str) -> list[StoredObject]:
        return self._retried(f"listing {prefix}", lambda: self.store.list_objects(prefix))

    def delete(self, keys: list[str]) -> None:
        self._retried(f"deleting {len(keys)} object(s)", lambda: self.store.delete(keys))
