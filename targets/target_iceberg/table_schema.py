"""One Iceberg table's schema: created complete (partition spec, column docs, name mapping),
evolved to a stream's schema (added columns, Iceberg promotions), and batches aligned to it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import NestedField

from dativo_singer.arrow_types import is_promotion
from dativo_singer.conversion import cast_or_reject
from dativo_singer.errors import FatalError
from target_iceberg import file_versions
from target_iceberg.catalog import classify_catalog_error
from target_iceberg.changes import CHANGE_COLUMNS
from target_iceberg.file_registration import NAME_MAPPING_KEY
from target_iceberg.ownership import claim_namespace, claim_table, ensure_namespace, tenant_of
from target_iceberg.partitioning import partition_spec
from target_iceberg.pyiceberg_internals import iceberg_schema
from target_iceberg.tables import load_table_or_none
from target_iceberg.type_changes import refused_type_change

if TYPE_CHECKING:
    from target_iceberg.table_writer import TableSettings


def create_or_load(catalog: Catalog, s: TableSettings, schema: pa.Schema, logger: logging.Logger) -> Table:
    """Load the table, or create it complete (partition spec, column docs) in one catalog
    call, so a concurrent writer never sees it half set up."""
    tenant = tenant_of(s.table_properties)
    if tenant:
        claim_namespace(catalog, s.namespace, tenant)
    else:
        ensure_namespace(catalog, s.namespace, {})
    existing = load_table_or_none(catalog, s.identifier)
    if existing is not None:
        return claim_table(existing, s.identifier, s.namespace, tenant) if tenant else existing
    fresh = documented(iceberg_schema(schema), s.column_docs)
    spec = partition_spec(fresh, s.partitioning)
    properties = dict(s.table_properties)
    if s.name_mapping:  # in the create, so keeping a BATCH file needs no commit of its own
        properties.setdefault(NAME_MAPPING_KEY, fresh.name_mapping.model_dump_json())
    try:
        table = catalog.create_table_if_not_exists(
            s.identifier, schema=fresh, partition_spec=spec, properties=properties
        )
    except Exception as exc:  # e.g. a catalog reporting a concurrent create in its own way
        raced = load_table_or_none(catalog, s.identifier)
        if raced is None:
            raise classify_catalog_error(f"cannot create table {s.identifier}", exc) from None
        return claim_table(raced, s.identifier, s.namespace, tenant) if tenant else raced
    logger.info("Table %s ready", s.identifier)
    return table


def documented(schema: Schema, docs: dict[str, str]) -> Schema:
    """``schema`` with the column docs set."""
    if not docs:
        return schema
    fields = [
        NestedField(f.field_id, f.name, f.field_type, f.required, docs[f.name]) if f.name in docs else f
        for f in schema.fields
    ]
    return Schema(*fields, schema_id=schema.schema_id, identifier_field_ids=schema.identifier_field_ids)


def _document_columns(table: Table, column_docs: dict[str, str]) -> None:
    docs = {k: v for k, v in column_docs.items() if k in table.schema().column_names}
    if not docs:
        return
    with table.update_schema() as update:
        for column, doc in docs.items():
            update.update_column(column, doc=doc)


def evolve(
    table: Table,
    schema: pa.Schema,
    s: TableSettings,
    logger: logging.Logger,
    *,
    follows_types: bool,
    before_change: Callable[[], None] = lambda: None,
) -> None:
    """Relaxed mode: add new columns and apply safe widenings; never drop or narrow. Strict
    mode adds only the source-file version columns (our own bookkeeping, see file_versions).
    A change stream's (``follows_types``) column whose type changed otherwise is refused
    (``type_changes``). ``before_change`` runs just before the schema changes."""
    refused = refused_type_change(table, schema, s.identifier) if follows_types else None
    if refused is not None:
        raise FatalError(refused)
    existing = {f.name: f.type for f in table.schema().as_arrow()}
    changes = [
        f.with_nullable(True)
        for f in schema
        if f.name not in existing or (f.type != existing[f.name] and is_promotion(existing[f.name], f.type))
    ]
    if s.strict:  # our own bookkeeping columns only
        own = file_versions.COLUMNS | CHANGE_COLUMNS
        changes = [f for f in changes if f.name in own and f.name not in existing]
    if not changes:
        return
    before_change()
    logger.info("Evolving %s: %s", s.identifier, ", ".join(f"{f.name} {f.type}" for f in changes))
    try:
        with table.update_schema() as update:
            update.union_by_name(pa.schema(changes))
    except (ValueError, TypeError) as exc:
        raise FatalError(f"cannot evolve {s.identifier}: {exc}") from None
    _document_columns(table, s.column_docs)


def align(data: pa.Table, table: Table) -> tuple[pa.Table, dict[int, str]]:
    """``data`` in the table's column order and types; rows that cannot be cast, and in strict
    mode rows with values in columns the table lacks, are returned as reasons by row index."""
    reasons: dict[int, str] = {}
    target = table.schema().as_arrow()
    for name in data.column_names:
        if name not in target.names:
            column = data.column(name)
            if column.null_count < len(column):
                for index in pc.indices_nonzero(pc.is_valid(column)).to_pylist():
                    reasons.setdefault(index, f"field {name!r} is not in the table schema")
    arrays = []
    for target_field in target:
        if target_field.name not in data.column_names:
            arrays.append(pa.nulls(data.num_rows, target_field.type))
            continue
        column = data.column(target_field.name)
        if column.type != target_field.type:
            column = cast_or_reject(column, target_field, reasons, "does not fit the table's")
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=target), reasons
