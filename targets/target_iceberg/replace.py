"""Replaces committed at the end of input: data files are written as the run goes, and one
snapshot at the end swaps them in. Until then the table is untouched, so a run that dies midway
leaves the old table whole, and its rerun replaces it again from the start. A batch's files are
written in a thread while the next batch is read (one write at a time; anything else waits for it
and raises its error). A full replace
(overwrite mode) swaps every existing file; an edited source file's new version (append mode,
see ``file_versions``) deletes the rows of its earlier versions."""

from __future__ import annotations

import itertools
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa
from pyiceberg.expressions import BooleanExpression
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from target_iceberg.pyiceberg_internals import append_data_files, swap_data_files, write_data_files
from target_iceberg.tables import branch_head


class StagedReplace:
    """Data files written for a full replace, not yet part of any snapshot."""

    def __init__(self) -> None:
        self._files: list[DataFile] = []
        self._rows = 0
        self._uuid = uuid.uuid4()
        self._counter = itertools.count(0)
        self._writing: Future[list[DataFile]] | None = None
        self._writer: ThreadPoolExecutor | None = None

    @property
    def files(self) -> list[DataFile]:
        """The staged data files (once the write in progress is done)."""
        self.wait()
        return self._files

    @property
    def rows(self) -> int:
        """Rows staged (once the write in progress is done)."""
        self.wait()
        return self._rows

    def wait(self) -> None:
        """Wait for the write in progress; its error is raised here."""
        writing, self._writing = self._writing, None
        if writing is not None:
            self._files.extend(writing.result())

    def stage(self, table: Table, data: pa.Table) -> None:
        """Write ``data`` as new data files of ``table`` (no commit), in the writer thread."""
        self.wait()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage")
        self._writing = self._writer.submit(write_data_files, table, data, self._uuid, self._counter)
        self._rows += data.num_rows

    def add(self, files: list[DataFile], rows: int) -> None:
        """Data files already placed in the table (BATCH files kept as they are)."""
        self._files.extend(files)
        self._rows += rows

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

    def commit_versions(
        self, table: Table, properties: dict[str, str], branch: str, replaced: BooleanExpression
    ) -> None:
        """One snapshot: the rows of the ``replaced`` file versions out, the staged files in."""
        with table.transaction() as tx:
            if branch_head(table, branch) is not None:
                tx.delete(replaced, snapshot_properties=properties, branch=branch)
            with tx.update_snapshot(snapshot_properties=properties, branch=branch).fast_append() as append:
                for data_file in self.files:
                    append.append_data_file(data_file)
