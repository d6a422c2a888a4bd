"""Upsert by a single key column, copy-on-write, one data file at a time.

Only the data files whose key range overlaps the batch are read; each is read alone, its rows
whose key is in the batch are dropped (``pc.is_in`` on a hash set, in C), and the rest written
to a new file at once. One overwrite snapshot then removes the rewritten files and adds their
kept rows and the batch. Memory holds one data file plus the batch, whatever the table size.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import uuid
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.expressions import And, GreaterThanOrEqual, LessThanOrEqual
from pyiceberg.manifest import DataFile, FileFormat
from pyiceberg.table import Table

from target_iceberg.pyiceberg_internals import read_data_files, swap_data_files, write_data_files
from target_iceberg.tables import branch_head


def can_merge_file_by_file(table: Table, keys: list[str], branch: str) -> bool:
    """True for one key column on a table with a snapshot and no delete files or non-Parquet data."""
    snapshot = branch_head(table, branch)
    if len(keys) != 1 or snapshot is None:
        return False
    for task in table.scan(snapshot_id=snapshot.snapshot_id).plan_files():
        if task.delete_files or task.file.file_format != FileFormat.PARQUET:
            return False
    return True


def merge_file_by_file(
    table: Table,
    data: pa.Table | None,
    key: str,
    properties: dict[str, str],
    branch: str,
    *,
    registered: Sequence[DataFile] = (),
    keys: pa.ChunkedArray | None = None,
) -> None:
    """Commit ``data`` (unique keys) and the ``registered`` data files (whose keys are ``keys``,
    ``data``'s included) as an upsert on ``key`` in one overwrite snapshot."""
    snapshot = branch_head(table, branch)
    assert snapshot is not None
    if keys is None:
        assert data is not None
        keys = data.column(key)
    values = pc.unique(keys)
    low, high = pc.min(values).as_py(), pc.max(values).as_py()
    overlap = And(GreaterThanOrEqual(key, low), LessThanOrEqual(key, high))  # type: ignore[call-arg, arg-type]
    tasks = table.scan(row_filter=overlap, snapshot_id=snapshot.snapshot_id).plan_files()
    write_uuid, counter = uuid.uuid4(), itertools.count(0)
    removed: list[DataFile] = []
    added: list[DataFile] = []
    ordered = _SortedKeys(values)
    for task in tasks:
        rows = read_data_files(table, [task])
        column = rows.column(key)
        near = ordered.between(column)
        if near is not None and not len(near):
            continue
        hit = pc.is_in(column, value_set=values if near is None else near)
        if not pc.any(hit).as_py():
            continue
        removed.append(task.file)
        kept = rows.filter(pc.invert(hit))
        if kept.num_rows:
            added.extend(write_data_files(table, kept, write_uuid, counter))
    if data is not None and data.num_rows:
        added.extend(write_data_files(table, data, write_uuid, counter))
    try:
        swap_data_files(table, removed, [*added, *registered], properties, write_uuid, branch)
    except (CommitFailedException, ValidationException):  # lost a race: nothing landed
        # The new files are orphans (registered ones are kept for the retry); the caller
        # retries on the refreshed table.
        for data_file in added:
            with contextlib.suppress(Exception):
                table.io.delete(data_file.file_path)
        raise


class _SortedKeys:
    """The batch's keys sorted once, so each data file is matched against only the keys within
    its own range: a hash set per file of those few keys, not of the whole batch (a commit of a
    million changes over a hundred files would otherwise hash the million keys a hundred times)."""

    def __init__(self, values: pa.Array | pa.ChunkedArray) -> None:
        self.values: pa.Array | None = None
        self.python: list[object] = []
        if pa.types.is_integer(values.type) or pa.types.is_string(values.type):
            if isinstance(values, pa.ChunkedArray):
                values = values.combine_chunks()
            self.values = pc.drop_null(values.take(pc.sort_indices(values)))
            self.python = self.values.to_pylist()

    def between(self, column: pa.ChunkedArray) -> pa.Array | None:
        """The batch's keys within ``column``'s smallest and largest value (None: all of them,
        for key types not sorted here)."""
        if self.values is None:
            return None
        bounds = pc.min_max(column)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if low is None:
            return self.values.slice(0, 0)
        start, stop = bisect.bisect_left(self.python, low), bisect.bisect_right(self.python, high)
        return self.values.slice(start, stop - start)
