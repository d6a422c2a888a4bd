"""The two targets of the crash trials: the job's target block and how the landed keys are read
back, independently of the target's code (pyiceberg's scan; boto3 and the manifests' JSON)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from target_iceberg.catalog import open_catalog

from tests.helpers import objects
from tests.helpers.project import Project

TARGETS = ("iceberg", "objects")
PROGRAMS = {"iceberg": "target-iceberg", "objects": "target-objects"}


def iceberg_block(batch_rows: int) -> dict[str, Any]:
    """Connector fields and target block of a job into the embedded catalog."""
    return {
        "target_connector": "iceberg",
        "target_connector_path": "connectors/targets/iceberg.yaml",
        "target": {"batch": {"rows": batch_rows}},
    }


def objects_block(prefix: str, batch_rows: int) -> dict[str, Any]:
    """Connector fields and target block of a job into SeaweedFS under ``prefix``: Parquet,
    several files per commit."""
    sw = objects.services.seaweedfs()
    connection = {
        "bucket": objects.s3_bucket().name,
        "prefix": prefix,
        "endpoint": sw.s3_endpoint,
        "region": sw.region,
        "access_key_id": sw.access_key,
        "secret_access_key": sw.secret_key,
    }
    return {
        "target_connector": "s3",
        "target_connector_path": "connectors/targets/s3.yaml",
        "target": {
            "format": "parquet",
            "batch": {"rows": batch_rows},
            "file": {"max_rows": max(1, batch_rows * 3 // 4)},
            "connection": {"s3": connection},
        },
    }


def iceberg_keys(project: Project, table: str, key: str) -> Callable[[], list[Any]]:
    """The keys in ``table`` of the project's embedded catalog (none before the first commit)."""

    def landed() -> list[Any]:
        if not (project.root / "warehouse" / "catalog.db").exists():
            return []
        catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
        if not catalog.table_exists(table):
            return []
        return list(catalog.load_table(table).scan(selected_fields=(key,)).to_arrow().column(key).to_pylist())

    return landed


def stream_root(bucket: objects.Bucket, prefix: str) -> str | None:
    """The one stream folder under ``prefix`` that has manifests."""
    roots = {k.split("/_manifests/")[0] for k in bucket.keys(prefix + "/") if "/_manifests/" in k}
    assert len(roots) <= 1, roots
    return roots.pop() if roots else None


def object_keys(prefix: str, key: str, cursor: str | None) -> Callable[[], list[Any]]:
    """The keys the manifests under ``prefix`` name, duplicates kept, in commit order.

    The object target only ever adds files, and an incremental source reads rows with
    ``cursor >= bookmark`` again (docs/DATABASES.md): a row whose cursor equals the newest cursor
    committed before (by the same partition, for a partitioned job) is that documented re-read of
    the bookmark, not a duplicate, and is left out.
    Any other row seen twice is kept, so the trial fails on it."""
    bucket = objects.s3_bucket()

    def landed() -> list[Any]:
        root = stream_root(bucket, prefix)
        if root is None:
            return []
        keys: list[Any] = []
        seen: set[Any] = set()
        bookmarks: dict[Any, Any] = {}  # per partition (None: an unpartitioned job)
        for manifest in objects.manifests(bucket, root):
            bookmark = bookmarks.get(manifest.get("partition"))
            rows = [
                row
                for f in manifest["files"]
                for row in objects.read_file(bucket.get(f["key"]), manifest["format"], manifest["compression"])
            ]
            for row in rows:
                if cursor is not None and row[key] in seen and row[cursor] == bookmark:
                    continue
                keys.append(row[key])
                seen.add(row[key])
            cursors = [row[cursor] for row in rows if cursor is not None and row[cursor] is not None]
            if cursors:
                bookmark = max([*cursors, *([bookmark] if bookmark is not None else [])])
                bookmarks[manifest.get("partition")] = bookmark
        return keys

    return landed


def orphans_only_unnamed(project: Project, job: str, prefix: str) -> tuple[int, int]:
    """`dativo maintain` removes the files of killed runs and only those: (named, removed)."""
    bucket = objects.s3_bucket()
    root = stream_root(bucket, prefix)
    assert root is not None
    named = {f["key"] for m in objects.manifests(bucket, root) for f in m["files"]}
    data = [k for k in bucket.keys(root + "/") if "/_manifests/" not in k]
    done = project.dativo("maintain", "--config", job, "--older-than-hours", "0")
    assert done.returncode == 0, done.stderr
    assert sorted(k for k in bucket.keys(root + "/") if "/_manifests/" not in k) == sorted(named)
    return len(named), len(data) - len(named)
