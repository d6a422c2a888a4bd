"""Manifests: one JSON object per commit, written after the data files it names.

A reader lists ``<stream root>/_manifests/``, reads them in name order (commit order) and reads
the files they name; files no manifest names are not part of the data (a run killed before its
commit). The newest manifest's ``state`` is the Singer bookmark committed with the data; for a
partitioned job, the newest manifest of each partition holds that partition's.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa

from dativo_singer.errors import FatalError
from target_objects.stores import ObjectStore

MANIFEST_VERSION = 1
CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class DataFile:
    """One data file as a manifest names it."""

    key: str
    rows: int
    bytes: int
    sha256: str


def build_manifest(
    *,
    stream: str,
    tenant: str,
    run_id: str,
    commit: int,
    committed_at: dt.datetime,
    file_format: str,
    compression: str,
    files: list[DataFile],
    schema: dict[str, Any],
    columns: pa.Schema | None,
    key_properties: list[str],
    state: dict[str, Any] | None,
    metadata: dict[str, str],
    table_version: int | None = None,
    partition: str | None = None,
) -> dict[str, Any]:
    """The manifest document (see docs/OBJECT_TARGET.md for its fields); with ``table_version``
    (a full-table read after ACTIVATE_VERSION) it replaces every earlier manifest's files; with
    ``partition`` its ``state`` is that partition's bookmark alone."""
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "stream": stream,
        "tenant": tenant,
        "run_id": run_id,
        "commit": commit,
        "committed_at": committed_at.isoformat().replace("+00:00", "Z"),
        "format": file_format,
        "compression": compression,
        "rows": sum(f.rows for f in files),
        "files": [asdict(f) for f in files],
        "schema": schema,
        "columns": [{"name": f.name, "type": str(f.type)} for f in columns] if columns is not None else [],
        "key_properties": key_properties,
        "state": state,
        "metadata": metadata,
    }
    if partition is not None:
        manifest["partition"] = partition
    if table_version is not None:
        manifest["replaces"] = True
        manifest["table_version"] = table_version
    return manifest


def current_manifests(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The manifests whose files hold the stream's rows (oldest first): from the newest one that
    ``replaces`` the earlier ones on."""
    start = max((i for i, m in enumerate(manifests) if m.get("replaces")), default=0)
    return manifests[start:]


def manifest_keys(store: ObjectStore, prefix: str) -> list[str]:
    """The keys of a stream's manifests, oldest commit first."""
    return [o.key for o in store.list_objects(prefix) if o.key.endswith(".json")]


def read_manifest(store: ObjectStore, key: str) -> dict[str, Any]:
    """One manifest; a file that is not one is an error naming it."""
    try:
        data = json.loads(store.get(key))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise FatalError(f"{store.url(key)} is not a manifest (not JSON)") from None
    if not isinstance(data, dict) or "files" not in data:
        raise FatalError(f"{store.url(key)} is not a manifest (no 'files')")
    return data


def newest_manifest(store: ObjectStore, prefix: str) -> tuple[str, dict[str, Any]] | None:
    """The key and content of the newest manifest under ``prefix`` (None when there is none)."""
    keys = manifest_keys(store, prefix)
    return (keys[-1], read_manifest(store, keys[-1])) if keys else None


def bookmark_manifest(
    store: ObjectStore, prefix: str, partition: str | None, newest: tuple[str, dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The newest manifest under ``prefix`` carrying ``partition``'s bookmark (None: the
    manifests of an unpartitioned job), searched from the newest back; ``newest`` is the
    newest manifest when the caller has read it already."""
    keys = manifest_keys(store, prefix)
    for key in reversed(keys):
        manifest = newest[1] if newest is not None and key == newest[0] else read_manifest(store, key)
        if manifest.get("partition") == partition:
            return manifest
    return None
