"""Every use of pyiceberg internals (underscored names, pydantic copies, snapshot producers), one
function each, so a pyiceberg upgrade touches this file only. Each has a test on a real embedded
catalog (tests/unit/test_pyiceberg_internals.py).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema, assign_fresh_schema_ids
from pyiceberg.table import FileScanTask, Table, TableProperties
from pyiceberg.typedef import Record

_HUGE_FILE = str(2**40)


def iceberg_schema(arrow: pa.Schema) -> Schema:
    """The Iceberg schema ``create_table`` would make of ``arrow`` (same fresh field ids), so a
    partition spec or docs can refer to its fields before the table exists."""
    return assign_fresh_schema_ids(Catalog._convert_schema_if_needed(arrow))


def write_data_files(
    table: Table, rows: pa.Table, write_uuid: uuid.UUID, counter: itertools.count[int]
) -> list[DataFile]:
    """Write ``rows`` as new data files of ``table`` (its spec and write properties), uncommitted."""
    return list(
        _dataframe_to_data_files(
            table_metadata=table.metadata, df=rows, io=table.io, write_uuid=write_uuid, counter=counter
        )
    )


def write_unsplit_data_files(
    table: Table, rows: pa.Table, write_uuid: uuid.UUID, counter: itertools.count[int]
) -> list[DataFile]:
    """Like ``write_data_files`` with no split by target file size (one file per partition)."""
    properties = {**table.metadata.properties, TableProperties.WRITE_TARGET_FILE_SIZE_BYTES: _HUGE_FILE}
    metadata = table.metadata.model_copy(update={"properties": properties})
    return list(
        _dataframe_to_data_files(
            table_metadata=metadata, df=rows, io=table.io, write_uuid=write_uuid, counter=counter
        )
    )


class DataFileWriter:
    """One data file of an unpartitioned table written in pieces, as ``write_data_files`` writes
    a whole one (pyiceberg's format writer, file schema, field ids, name and statistics), each
    piece a row group as it comes; uncommitted. ``close`` gives its ``DataFile``."""

    def __init__(self, table: Table, write_uuid: uuid.UUID, counter: itertools.count[int]) -> None:
        from pyiceberg.io.fileformat import FileFormatFactory
        from pyiceberg.io.pyarrow import sanitize_column_names
        from pyiceberg.manifest import FileFormat
        from pyiceberg.table import WriteTask
        from pyiceberg.table.locations import load_location_provider

        metadata = self._metadata = table.metadata
        assert metadata.spec().is_unpartitioned()
        properties = metadata.properties
        self._format = FileFormat(
            properties.get(TableProperties.WRITE_FILE_FORMAT, TableProperties.WRITE_FILE_FORMAT_DEFAULT)
        )
        self._model = FileFormatFactory.get(self._format)
        self._schema = metadata.schema()
        self._file_schema = sanitize_column_names(self._schema)
        task = WriteTask(write_uuid=write_uuid, task_id=next(counter), record_batches=[], schema=self._schema)
        location = load_location_provider(table_location=metadata.location, table_properties=properties)
        self.path = location.new_data_location(data_file_name=task.generate_data_file_filename("parquet"))
        self._output = table.io.new_output(self.path)
        self._writer = self._model.create_writer(self._output, self._file_schema, properties)
        self.rows = self.nbytes = 0

    def write(self, rows: pa.Table) -> None:
        """Add ``rows`` (in the table's schema) to the file."""
        from pyiceberg.io.pyarrow import _to_requested_schema, pyarrow_to_schema
        from pyiceberg.table import DOWNCAST_NS_TIMESTAMP_TO_US_ON_WRITE
        from pyiceberg.utils.config import Config

        downcast = Config().get_bool(DOWNCAST_NS_TIMESTAMP_TO_US_ON_WRITE) or False
        given = pyarrow_to_schema(
            rows.schema,
            name_mapping=self._schema.name_mapping,
            downcast_ns_timestamp_to_us=downcast,
            format_version=self._metadata.format_version,
        )
        batches = [
            _to_requested_schema(
                requested_schema=self._file_schema,
                file_schema=given,
                batch=batch,
                downcast_ns_timestamp_to_us=downcast,
                include_field_ids=True,
                format_model=self._model,
            )
            for batch in rows.to_batches()
        ]
        self._writer.write(pa.Table.from_batches(batches))
        self.rows += rows.num_rows
        self.nbytes += rows.nbytes

    def close(self) -> DataFile:
        """The written file, closed, as a data file of the table."""
        from pyiceberg.manifest import DataFileContent

        statistics = self._writer.close()
        return DataFile.from_args(
            content=DataFileContent.DATA,
            file_path=self.path,
            file_format=self._format,
            partition=Record(),
            file_size_in_bytes=len(self._output),
            sort_order_id=None,
            spec_id=self._metadata.default_spec_id,
            equality_ids=None,
            key_metadata=None,
            **statistics.to_serialized_dict(),
        )


def target_file_bytes(table: Table) -> int:
    """``write.target-file-size-bytes`` of the table, in Arrow bytes as pyiceberg measures it."""
    properties = table.metadata.properties
    return int(
        properties.get(
            TableProperties.WRITE_TARGET_FILE_SIZE_BYTES, TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT
        )
    )


def parquet_data_file(table: Table, location: str, partition: Record | None = None) -> DataFile:
    """A data file of ``table`` for the Parquet file at ``location`` (already in the table's
    folder), statistics from its footer: pyiceberg's ``parquet_file_to_data_file`` without its
    schema check, which prints a table to stdout (the Singer channel) when it fails; the caller
    has checked the columns itself (``file_registration``). ``partition``: the file's partition
    record when its values are not in the file (an ``ingest_date`` the target derives)."""
    import pyarrow.parquet as pq
    from pyiceberg.io.pyarrow import (
        compute_statistics_plan,
        data_file_statistics_from_parquet_metadata,
        parquet_path_to_id_mapping,
    )
    from pyiceberg.manifest import DataFileContent, FileFormat

    metadata = table.metadata
    input_file = table.io.new_input(location)
    with input_file.open() as stream:
        parquet_metadata = pq.read_metadata(stream)
    schema = metadata.schema()
    statistics = data_file_statistics_from_parquet_metadata(
        parquet_metadata=parquet_metadata,
        stats_columns=compute_statistics_plan(schema, metadata.properties),
        parquet_column_mapping=parquet_path_to_id_mapping(schema),
    )
    return DataFile.from_args(
        content=DataFileContent.DATA,
        file_path=location,
        file_format=FileFormat.PARQUET,
        partition=partition if partition is not None else statistics.partition(metadata.spec(), schema),
        file_size_in_bytes=len(input_file),
        sort_order_id=None,
        spec_id=metadata.default_spec_id,
        equality_ids=None,
        key_metadata=None,
        **statistics.to_serialized_dict(),
    )


def read_data_files(table: Table, tasks: Iterable[FileScanTask]) -> pa.Table:
    """The rows of the given scan tasks, in the table's current schema."""
    return ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue()).to_table(tasks)


def append_data_files(
    table: Table, files: Iterable[DataFile], properties: dict[str, str], branch: str = "main"
) -> None:
    """One fast-append snapshot on ``branch`` adding already written data files."""
    with table.transaction() as tx:
        update = tx.update_snapshot(snapshot_properties=properties, branch=branch)
        with update.fast_append() as append:
            for data_file in files:
                append.append_data_file(data_file)


def swap_data_files(
    table: Table,
    removed: Iterable[DataFile],
    added: Iterable[DataFile],
    properties: dict[str, str],
    write_uuid: uuid.UUID,
    branch: str = "main",
) -> None:
    """One overwrite snapshot on ``branch``: ``removed`` files out, ``added`` files in."""
    with table.transaction() as tx:
        update = tx.update_snapshot(snapshot_properties=properties, branch=branch)
        with update.overwrite(write_uuid) as overwrite:
            # Every manifest is a candidate (also of unpartitioned tables); only the files
            # listed are removed from them.
            overwrite.delete_by_predicate(AlwaysTrue())
            for data_file in removed:
                overwrite.delete_data_file(data_file)
            for data_file in added:
                overwrite.append_data_file(data_file)


def keep_null_lists_of_structs() -> None:
    """Work around apache/iceberg-python#3833: ``ArrowProjectionVisitor.list`` rebuilds a list of
    structs from its offsets and values without the validity mask, so a null list<struct> is
    written and read as ``[]``. The wrapper puts the mask back. Idempotent; applied when
    ``target_iceberg`` is imported (writing, and our own reads)."""
    from pyiceberg.io.pyarrow import ArrowProjectionVisitor

    original = ArrowProjectionVisitor.list
    if getattr(original, "_dativo_keeps_nulls", False):
        return

    def list_keeping_nulls(
        self: ArrowProjectionVisitor,
        list_type: object,
        list_array: pa.Array | None,
        value_array: pa.Array | None,
    ) -> pa.Array | None:
        result = original(self, list_type, list_array, value_array)  # type: ignore[arg-type]
        if (
            result is None
            or list_array is None
            or not list_array.null_count
            or result.null_count == list_array.null_count
            or not isinstance(result, (pa.ListArray, pa.LargeListArray))
        ):
            return result
        return type(result).from_arrays(
            result.offsets, result.values, type=result.type, mask=list_array.is_null()
        )

    list_keeping_nulls._dativo_keeps_nulls = True  # type: ignore[attr-defined]
    ArrowProjectionVisitor.list = list_keeping_nulls  # type: ignore[method-assign]


keep_null_lists_of_structs()


def without_commit_retries(table: Table) -> None:
    """Make the next commits through ``table`` fail on a concurrent update instead of being
    rebuilt on the new head inside pyiceberg (``commit.retry.num-retries``, default 4), so the
    caller re-checks the table's bookmark before it retries. In memory only: the table's stored
    properties are unchanged, and the next load of the table has them back."""
    properties = {**table.metadata.properties, TableProperties.COMMIT_NUM_RETRIES: "0"}
    table.metadata = table.metadata.model_copy(update={"properties": properties})
