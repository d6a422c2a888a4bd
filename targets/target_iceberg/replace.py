"""Full replace (overwrite mode): data files are written as the run goes, and one snapshot at the
end swaps every existing file for them. Until then the table is untouched, so a run that dies
midway leaves the old table whole, and its rerun replaces it again from the start."""

from __future__ import annotations

import itertools
import uuid

import pyarrow as pa
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from target_iceberg.pyiceberg_internals import append_data_files, swap_data_files, write_data_files
from target_iceberg.tables import branch_head


class StagedReplace:
    """Data files written for a full replace, not yet part of any snapshot."""

    def __init__(self) -> None:
        self.files: list[DataFile] = []
        self.rows = 0
        self._uuid = uuid.uuid4()
        self._counter = itertools.count(0)

    def stage(self, table: Table, data: pa.Table) -> None:
        """Write ``data`` as new data files of ``table`` (no commit)."""
        self.files.extend(write_data_files(table, data, self._uuid, self._counter))
        self.rows += data.num_rows

    def add(self, files: list[DataFile], rows: int) -> None:
        """Data files already placed in the table (BATCH files kept as they are)."""
        self.files.extend(files)
        self.rows += rows

    def commit(self, table: Table, properties: dict[str, str], branch: str) -> None:
        """One snapshot: every data file of the branch head out, the staged files in."""
        head = branch_head(table, branch)
        existing = (
            [task.file for task in table.scan(snapshot_id=head.snapshot_id).plan_files()] if head else []
        )
        if existing:
            swap_data_files(table, existing, self.files, properties, self._uuid, branch)
        else:
            append_data_files(table, self.files, properties, branch)
