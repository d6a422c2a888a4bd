"""What a job's objects hold (`dativo inspect`, `dativo show`): the manifests under
``<prefix>/<tenant>/<stream>/_manifests/``, each with its files, rows and bookmark, and the first
rows of the newest files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from target_objects.settings import ObjectSettings
    from target_objects.stores import ObjectStore


def read_manifests(
    store: ObjectStore, settings: ObjectSettings, stream: str
) -> list[tuple[str, dict[str, Any]]]:
    """Every manifest of the stream, oldest commit first, with its key."""
    from target_objects.manifest import manifest_keys, read_manifest

    return [
        (key, read_manifest(store, key)) for key in manifest_keys(store, settings.manifest_prefix(stream))
    ]


def first_rows(
    store: ObjectStore, manifests: list[dict[str, Any]], limit: int
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Up to ``limit`` rows from the newest files back, grouped by file URL."""
    from target_objects.formats import get_format

    found: list[tuple[str, list[dict[str, Any]]]] = []
    shown = 0
    files = [(m, f) for m in manifests for f in m["files"]]
    for manifest, entry in reversed(files):
        if shown >= limit:
            break
        data = get_format(manifest["format"]).read(store.get(entry["key"]), manifest["compression"])
        rows = data.slice(0, limit - shown).to_pylist()
        found.append((store.url(entry["key"]), rows))
        shown += len(rows)
    return found


def inspect_objects(store: ObjectStore, settings: ObjectSettings, stream: str, limit: int) -> dict[str, Any]:
    """The whole report; ``exists`` False before the first commit."""
    where = store.url(settings.stream_root(stream) + "/")
    found = read_manifests(store, settings, stream)
    base: dict[str, Any] = {
        "location": where,
        "manifest_prefix": store.url(settings.manifest_prefix(stream)),
    }
    if not found:
        return {**base, "exists": False}
    newest = found[-1][1]
    manifests: list[dict[str, Any]] = [
        {
            "manifest": store.url(key),
            "commit": m.get("commit"),
            "run_id": m.get("run_id"),
            "committed_at": m.get("committed_at"),
            "format": m.get("format"),
            "compression": m.get("compression"),
            "rows": int(m.get("rows") or 0),
            "files": [
                {"url": store.url(f["key"]), "rows": f.get("rows"), "bytes": f.get("bytes")}
                for f in m["files"]
            ],
            "bookmark": m.get("state"),
        }
        for key, m in found
    ]
    samples = first_rows(store, [m for _, m in found], limit) if limit > 0 else []
    return {
        **base,
        "exists": True,
        "format": newest.get("format"),
        "compression": newest.get("compression"),
        "schema": newest.get("columns") or [],
        "key_properties": newest.get("key_properties") or [],
        "partition_spec": [],
        "manifests": manifests,
        "rows": sum(m["rows"] for m in manifests),
        "files": sum(len(m["files"]) for m in manifests),
        "sample": [row for _, rows in samples for row in rows],
        "sample_files": [url for url, _ in samples],
    }
