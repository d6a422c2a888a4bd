"""Format ``raw``: each record's ``content`` (base64) written unchanged as one object.

The object is named by the record's ``path`` below the stream root
(``<prefix>/<tenant>/<stream>/<path>``; an ``s3://bucket/`` prefix is dropped), so the bucket
mirrors the source files. A file read again after a change overwrites its object; each commit's
manifest names the objects it wrote with their size and SHA-256.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
from collections.abc import Mapping

import pyarrow as pa

from dativo_singer.errors import FatalError
from target_objects.manifest import DataFile
from target_objects.stores import ObjectStore

REQUIRED = ("path", "content")


def relative_key(path: str) -> str:
    """A source path as a key below the stream root: no scheme and bucket, no leading ``/``,
    no ``..`` or empty segments."""
    if "://" in path:
        path = path.split("://", 1)[1].partition("/")[2]
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise FatalError(f"format 'raw': path {path!r} cannot name an object")
    return "/".join(parts)


def write_raw_objects(
    data: pa.Table, *, root: str, store: ObjectStore, metadata: Mapping[str, str]
) -> list[DataFile]:
    """Upload every record's bytes; the ``DataFile`` entries for the commit's manifest."""
    missing = [name for name in REQUIRED if name not in data.column_names]
    if missing:
        raise FatalError(
            f"format 'raw' needs the fields path and content (base64), as tap-markdown-kv's raw "
            f"storage emits; the stream has no {missing[0]!r}"
        )
    written = []
    for row in data.select(list(REQUIRED)).to_pylist():
        key = (
            f"{root}/{relative_key(str(row['path'] or ''))}" if root else relative_key(str(row["path"] or ""))
        )
        try:
            body = base64.b64decode(row["content"] or "", validate=True)
        except (binascii.Error, ValueError):
            raise FatalError(f"format 'raw': the content of {row['path']!r} is not base64") from None
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        store.put_bytes(key, body, content_type, metadata)
        written.append(DataFile(key, 1, len(body), hashlib.sha256(body).hexdigest()))
    return written
