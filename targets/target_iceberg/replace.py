"""Full replace (overwrite mode): data files are written as the run goes, and one snapshot at the
end swaps every existing file for them. Until then the table is untouched, so a run that dies
midway leaves the old table whole, and its rerun replaces it again from the start."""

from __future__ import annotations

import itertools
import uuid

import pyarrow as pa
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table


class StagedReplace:
    """Data files written for a full replace, not yet part of any snapshot."""

    def __init__(self) -> None:
        self.files: list[DataFile] = []
        self.rows = 0
        self._uuid = uuid.uuid4()
        self._counter = itertools.count(0)

    def stage(self, table: Table, data: pa.Table) -> None:
        """Write ``data`` as new data files of ``table`` (no commit)."""
        self.files.extend(
            _dataframe_to_data_files(
                table_metadata=table.metadata,
                df=data,
                io=table.io,
                write_uuid=self._uuid,
                counter=self._counter,
            )
        )
        self.rows += data.num_rows

    def commit(self, table: Table, properties: dict[str, str], branch: str) -> None:
        """One snapshot: every data file of the branch head out, the staged files in."""
        head = table.current_snapshot() if branch == "main" else table.snapshot_by_name(branch)
        existing = (
            [task.file for task in table.scan(snapshot_id=head.snapshot_id).plan_files()] if head else []
        )
        with table.transaction() as tx:
            update = tx.update_snapshot(snapshot_properties=properties, branch=branch)
            if not existing:
                with update.fast_append() as append:
                    for data_file in self.files:
                        append.append_data_file(data_file)
                return
            with update.overwrite(self._uuid) as overwrite:
                overwrite.delete_by_predicate(AlwaysTrue())  # every manifest is a candidate
                for data_file in existing:
                    overwrite.delete_data_file(data_file)
                for data_file in self.files:
                    overwrite.append_data_file(data_file)
