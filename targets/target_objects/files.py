"""Writing one commit's rows as data files: rotated by rows and bytes, checksummed, uploaded."""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from target_objects.formats import FileFormat
from target_objects.manifest import DataFile
from target_objects.stores import ObjectStore

_SLICE_ROWS = 50_000  # rows written between two looks at the file size


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _local_files(
    data: pa.Table, fmt: FileFormat, compression: str, folder: Path, max_rows: int, max_bytes: int
) -> list[tuple[Path, int]]:
    """The rows in local files of at most ``max_rows`` rows, each closed once it reaches about
    ``max_bytes``. Returns (path, rows) pairs."""
    made: list[tuple[Path, int]] = []
    # Rows per write: small enough to look at the size about 4 times per file.
    row_bytes = max(1, data.nbytes // max(1, data.num_rows))
    slice_rows = max(1, min(_SLICE_ROWS, max_bytes // row_bytes // 4))
    offset = 0
    while offset < data.num_rows:
        path = folder / f"{len(made):05d}"
        writer = fmt.open(path, data.schema, compression)
        rows = 0
        while offset < data.num_rows and rows < max_rows:
            step = min(slice_rows, max_rows - rows, data.num_rows - offset)
            writer.write(data.slice(offset, step))
            offset += step
            rows += step
            if writer.position >= max_bytes:
                break
        writer.close()
        made.append((path, rows))
    return made


def write_data_files(
    data: pa.Table,
    *,
    fmt: FileFormat,
    compression: str,
    max_rows: int,
    max_bytes: int,
    store: ObjectStore,
    next_key: Callable[[], str],
    metadata: dict[str, str],
) -> list[DataFile]:
    """Write and upload ``data``; on a failure the files already uploaded are removed (best
    effort: what remains is named by no manifest, and `dativo maintain` finds it)."""
    uploaded: list[DataFile] = []
    with tempfile.TemporaryDirectory(prefix="target-objects-") as folder:
        try:
            for path, rows in _local_files(data, fmt, compression, Path(folder), max_rows, max_bytes):
                key = next_key()
                store.put_file(key, path, fmt.content_type_for(compression), metadata)
                uploaded.append(DataFile(key, rows, path.stat().st_size, _sha256(path)))
                path.unlink()
        except BaseException:
            with contextlib.suppress(Exception):  # the original error is the one to report
                store.delete([f.key for f in uploaded])
            raise
    return uploaded
