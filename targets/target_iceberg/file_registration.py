"""A tap's BATCH Parquet file added to the table as it is, when rewriting it would change nothing.

A file qualifies when its columns are exactly the stream's (same names, order and Arrow types),
every column is flat, no required column holds a null (from the footer's statistics), the table
holds those columns with the same types (any other table column optional) and is unpartitioned
or partitioned by the derived ``ingest_date`` alone, and no column policy applies. It is then
hard-linked (or copied) into the table's data folder and committed as a data file whose
statistics come from its footer: no row is read, converted or re-encoded. Anything else is read
and rewritten as before (docs/BATCH.md). The file has no Iceberg field ids; the table's
``schema.name-mapping.default`` (set when the target creates the table, else on first use) maps
its columns by name, as for files added with pyiceberg's ``add_files``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table, TableProperties
from pyiceberg.typedef import Record

from dativo_singer.batch_files import KeptFile
from target_iceberg.pyiceberg_internals import parquet_data_file

if TYPE_CHECKING:
    from target_iceberg.table_writer import TableSettings

_COPY_CHUNK = 8 * 1024 * 1024
NAME_MAPPING_KEY = TableProperties.DEFAULT_NAME_MAPPING


def _storage_type(data_type: pa.DataType) -> pa.DataType:
    """The type as Parquet stores it: large and small strings/binaries are the same."""
    if pa.types.is_large_string(data_type):
        return pa.string()
    if pa.types.is_large_binary(data_type):
        return pa.binary()
    return data_type


def _flat(data_type: pa.DataType) -> bool:
    return not pa.types.is_nested(data_type) and not pa.types.is_dictionary(data_type)


def _null_count(metadata: pq.FileMetaData, column: int) -> int | None:
    """Nulls of a flat column from the footer's statistics (None: not recorded)."""
    total = 0
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(column).statistics
        if stats is None or not stats.has_null_count:
            return None
        total += stats.null_count
    return total


def stream_mismatch(metadata: pq.FileMetaData, expected: pa.Schema) -> str | None:
    """Why the file's columns are not the stream's (names in order, types, flat, no null in a
    required one), or None. A file with a column the stream leaves out (a Singer ``_sdc_``
    field) does not fit: pyiceberg cannot read a file column its name mapping lacks."""
    schema = metadata.schema.to_arrow_schema()
    if schema.names != expected.names:
        return f"its columns {schema.names} are not the stream's {expected.names}"
    for index, (found, wanted) in enumerate(zip(schema, expected, strict=True)):
        if not _flat(wanted.type):
            return f"column {wanted.name!r} is nested"
        if _storage_type(found.type) != _storage_type(wanted.type):
            return f"column {wanted.name!r} is {found.type}, not {wanted.type}"
        if not wanted.nullable and _null_count(metadata, index) != 0:
            return f"required column {wanted.name!r} may hold nulls"
    return None


def inspect(
    path: str, expected: pa.Schema, needed: list[str], distinct: Sequence[str] = ()
) -> tuple[KeptFile | None, str]:
    """The file as a ``KeptFile`` when it fits the stream, else None and why (a file that cannot
    be read is left to the rewrite, which reports it): the ``needed`` columns read, of which the
    ``distinct`` ones are kept only as their distinct combinations (``KeptFile.versions``)."""
    try:
        metadata = pq.read_metadata(path)
        reason = stream_mismatch(metadata, expected)
        if reason is not None:
            return None, reason
        columns = pq.read_table(path, columns=needed) if needed else None
        versions = None
        if columns is not None and distinct:
            names = list(distinct)
            versions = columns.select(names).group_by(names, use_threads=False).aggregate([])
            columns = columns.drop_columns(names)
        return KeptFile(path, metadata.num_rows, os.path.getsize(path), columns, versions=versions), ""
    except (OSError, pa.ArrowException) as exc:
        return None, f"it cannot be read ({exc})"


def all_distinct(table: pa.Table) -> bool:
    """True when no two rows of ``table`` are equal (two nulls are equal). One orderable column
    is checked in order: strictly increasing as it comes (ids read in order, in microseconds) or
    once sorted; anything else is grouped."""
    if table.num_rows < 2:
        return True
    if table.num_columns == 1:
        column = table.column(0).combine_chunks()
        if column.null_count > 1:
            return False
        values = column.drop_null() if column.null_count else column
        if pa.types.is_integer(values.type) or pa.types.is_string(values.type) or pa.types.is_large_string(
            values.type
        ):
            if _strictly_increasing(values):
                return True
            return _strictly_increasing(values.take(pc.sort_indices(values)))
    distinct = table.group_by(table.column_names, use_threads=False).aggregate([]).num_rows
    return bool(distinct == table.num_rows)


def _strictly_increasing(values: pa.Array) -> bool:
    if len(values) < 2:
        return True
    return bool(pc.all(pc.greater(values[1:], values[:-1])).as_py())


def unique_keys(file: KeptFile, settings: TableSettings) -> bool:
    """True unless the file holds a key twice (merging, and appending with keys, need one row
    per key in a file kept as it is)."""
    if settings.write_mode not in ("append", "merge") or not settings.key_properties or file.columns is None:
        return True
    keys = file.columns.select(settings.key_properties)
    return all_distinct(keys)


def table_mismatch(table: Table, expected: pa.Schema, derived: frozenset[str] = frozenset()) -> str | None:
    """Why the file's rows would not read back as the rewrite writes them, or None: the table
    must hold the stream's columns with the same types (its other columns optional) and be
    unpartitioned, or partitioned only by identity on ``derived`` columns the file lacks (their
    value, the same for the whole file, goes in its partition record)."""
    schema = table.schema()
    for field in table.spec().fields:
        source = schema.find_field(field.source_id).name
        if str(field.transform) != "identity" or source not in derived or source in expected.names:
            return f"the table is partitioned by {field.transform}({source})"
    columns = {f.name: f for f in schema.as_arrow()}
    for wanted in expected:
        found = columns.pop(wanted.name, None)
        if found is None:
            return f"the table has no column {wanted.name!r}"
        if _storage_type(found.type) != _storage_type(wanted.type):
            return f"the table's {wanted.name!r} is {found.type}, not {wanted.type}"
        if not found.nullable and wanted.nullable:
            return f"the table requires {wanted.name!r}, which the stream may leave null"
    required = [name for name, f in columns.items() if not f.nullable]
    return f"the table requires {required[0]!r}, which the file lacks" if required else None


def _local_path(location: str) -> str | None:
    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):
        return unquote(parsed.path) if parsed.scheme else location
    return None


def place_file(table: Table, source: str) -> str:
    """Hard-link (same disk) or copy ``source`` into the table's data folder; its location."""
    location = table.location_provider().new_data_location(f"{uuid.uuid4()}-batch.parquet")
    local = _local_path(location)
    if local is not None:
        os.makedirs(os.path.dirname(local), exist_ok=True)
        try:
            os.link(source, local)
        except OSError:
            shutil.copyfile(source, local)
        return location
    output = table.io.new_output(location)
    with open(source, "rb") as reader, output.create(overwrite=True) as writer:
        shutil.copyfileobj(reader, writer, _COPY_CHUNK)
    return location


def remove_placed(table: Table, files: Sequence[DataFile]) -> None:
    """Delete placed files that will not be committed (best effort: an orphan is harmless)."""
    for data_file in files:
        with contextlib.suppress(Exception):
            table.io.delete(data_file.file_path)


def register(table: Table, file: KeptFile, partition: Record | None = None) -> DataFile | None:
    """The file placed in the table and described as a data file (statistics from its footer,
    ``partition`` its partition record when the table is partitioned by derived columns); None,
    with nothing left behind, when pyiceberg cannot describe it after all."""
    location = place_file(table, file.path)
    try:
        return parquet_data_file(table, location, partition)
    except (ValueError, KeyError, OSError):
        with contextlib.suppress(Exception):
            table.io.delete(location)
        return None


def ensure_name_mapping(table: Table) -> Table:
    """Give the table a name mapping (files without field ids are read by column name)."""
    if table.metadata.name_mapping() is not None:
        return table
    mapping = table.schema().name_mapping.model_dump_json()
    with table.transaction() as tx:
        tx.set_properties({TableProperties.DEFAULT_NAME_MAPPING: mapping})
    return table
