"""Replaces committed at the end of input: data files are written as the run goes, and one
snapshot at the end swaps them in. Until then the table is untouched, so a run that dies midway
leaves the old table whole, and its rerun replaces it again from the start. Staged rows are
written in a thread while the next are read (one write at a time; anything else waits for it and
raises its error); in an unpartitioned table they go on filling one open data file, a row group
per batch, until it reaches the table's target file size, so batches may be small (the end of
input leaves little to write) without making small files. A full replace (overwrite mode) swaps
every existing file; an edited source file's new version (append mode, see ``file_versions``)
deletes the rows of its earlier versions."""

from __future__ import annotations

import itertools
import uuid
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa
from pyiceberg.expressions import BooleanExpression
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

from target_iceberg.pyiceberg_internals import (
    DataFileWriter,
    append_data_files,
    swap_data_files,
    target_file_bytes,
    write_data_files,
)
from target_iceberg.tables import branch_head


class StagedReplace:
    """Data files written for a full replace, not yet part of any snapshot."""

    def __init__(self) -> None:
        self._files: list[DataFile] = []
        self._rows = 0
        self._uuid = uuid.uuid4()
        self._counter = itertools.count(0)
        self._writing: Future[None] | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._open: DataFileWriter | None = None  # the file being filled (writer thread)
        self._open_schema = -1

    @property
    def files(self) -> list[DataFile]:
        """The staged data files, every one closed (see ``wait``)."""
        self.wait()
        return self._files

    @property
    def rows(self) -> int:
        """Rows staged."""
        return self._rows

    def wait(self) -> None:
        """Every staged row in a closed data file: the write in progress done (its error raised
        here), the file being filled closed."""
        self._settle()
        if self._open is not None:
            opened, self._open = self._open, None
            self._files.append(opened.close())

    def _settle(self) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def stage(self, table: Table, data: pa.Table) -> None:
        """Write ``data`` as new data of ``table`` (no commit), in the writer thread."""
        self._settle()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage")
        self._writing = self._writer.submit(self._write, table, data)
        self._rows += data.num_rows

    def _write(self, table: Table, data: pa.Table) -> None:
        if not table.metadata.spec().is_unpartitioned():
            self._files.extend(write_data_files(table, data, self._uuid, self._counter))
            return
        schema = table.metadata.current_schema_id
        if self._open is not None and self._open_schema != schema:
            self._files.append(self._open.close())
            self._open = None
        if self._open is None:
            self._open, self._open_schema = DataFileWriter(table, self._uuid, self._counter), schema
        self._open.write(data)
        if self._open.nbytes >= target_file_bytes(table):
            self._files.append(self._open.close())
            self._open = None

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
