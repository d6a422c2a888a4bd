"""Orphan files of an Iceberg table: files under its data and metadata folders no snapshot names.

A target killed after writing a data file and before its commit, or a commit that lost the
catalog race and was redone with new files, leaves files no snapshot references. They are listed
from storage, compared with every file every snapshot (of every branch) references, and deleted
once older than a cut-off: a younger file may belong to a writer that has not committed yet.
In the metadata folder only manifests and manifest lists (``*.avro``) are candidates: table
metadata files (which the catalog and the metadata log point at), statistics files and anything
else a catalog keeps there are never touched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem
    from pyiceberg.table import Table


@dataclass(frozen=True)
class OrphanReport:
    """Files no snapshot references: found, deleted (or that would be), and kept as too recent."""

    applied: bool
    older_than: str
    files_listed: int = 0
    orphans: list[str] = field(default_factory=list)
    orphan_bytes: int = 0
    recent_orphans: int = 0
    deleted: int = 0
    not_deleted: int = 0
    skipped: str | None = None


def _storage(table: Table, location: str) -> tuple[FileSystem, str] | None:
    """The Arrow filesystem of the table's FileIO and the path of ``location`` on it (None when
    the FileIO cannot list)."""
    from pyiceberg.io.pyarrow import PyArrowFileIO

    if not isinstance(table.io, PyArrowFileIO):
        return None
    scheme, netloc, path = PyArrowFileIO.parse_location(location, table.io.properties)
    return table.io.fs_by_scheme(scheme, netloc), path


def _path(table: Table, location: str) -> str:
    """A file's location as a path on its filesystem (the form listings return)."""
    from pyiceberg.io.pyarrow import PyArrowFileIO

    return PyArrowFileIO.parse_location(location, table.io.properties)[2]


def _listed(fs: FileSystem, folder: str) -> list[tuple[str, int, dt.datetime | None]]:
    """(path, size, modified) of every file below ``folder``; nothing when it does not exist."""
    from pyarrow.fs import FileSelector, FileType

    infos = fs.get_file_info(FileSelector(folder, recursive=True, allow_not_found=True))
    return [(i.path, i.size or 0, i.mtime) for i in infos if i.type == FileType.File]


def remove_orphan_files(table: Table, older_than: dt.datetime, *, dry_run: bool = False) -> OrphanReport:
    """Delete (unless ``dry_run``) the table's files no snapshot references, once older than
    ``older_than``."""
    from target_iceberg.maintenance import reachable_files

    cutoff = older_than.astimezone(dt.timezone.utc)
    shown = cutoff.isoformat(timespec="seconds")
    storage = _storage(table, table.location())
    if storage is None:
        return OrphanReport(applied=False, older_than=shown, skipped="this storage cannot be listed")
    fs, root = storage
    data, metadata = (_listed(fs, f"{root.rstrip('/')}/{folder}") for folder in ("data", "metadata"))
    if any(path.endswith(".metadata.json") for path, _, _ in data):
        nested = "another table's metadata lies in this table's data folder"
        return OrphanReport(applied=False, older_than=shown, skipped=nested)
    # In the metadata folder only manifests and manifest lists (Avro) are candidates: table
    # metadata, statistics and anything a catalog keeps there are left alone.
    listed = data + [item for item in metadata if item[0].endswith(".avro")]
    # Read after listing: a file committed meanwhile is referenced by then.
    table.refresh()
    referenced = {_path(table, p) for p in reachable_files(table, table.metadata.snapshots, live_only=False)}
    orphans = [item for item in listed if item[0] not in referenced]
    old = [item for item in orphans if item[2] is None or item[2].astimezone(dt.timezone.utc) < cutoff]
    deleted = failed = 0
    if not dry_run:
        for path, _, _ in old:
            try:
                fs.delete_file(path)
                deleted += 1
            except OSError:  # an undeletable file stays an orphan; the table itself is consistent
                failed += 1
    return OrphanReport(
        applied=not dry_run,
        older_than=shown,
        files_listed=len(listed),
        orphans=sorted(path for path, _, _ in old),
        orphan_bytes=sum(size for _, size, _ in old),
        recent_orphans=len(orphans) - len(old),
        deleted=deleted,
        not_deleted=failed,
    )
