"""The target's config, declared once (shared properties from ``dativo_singer.settings``), and
the per-stream table settings derived from it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from singer_sdk import typing as th

from dativo_singer.settings import (
    SHARED_TARGET_PROPERTIES,
    STRING_MAP,
    effective_load_write_mode,
    partition_of,
    partition_property,
)
from target_iceberg.local_metadata import state_key
from target_iceberg.naming import namespace_for, table_name_for
from target_iceberg.partitioning import parse_partitioning
from target_iceberg.table_writer import WRITE_MODES, TableSettings

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "catalog",
        th.ObjectType(additional_properties=True),
        secret=True,  # may carry credentials (credential, token, s3.secret-access-key, adls.*)
        description="pyiceberg catalog properties, passed to load_catalog verbatim (type, uri, "
        "warehouse, credential, token, s3.*, adls.*); may hold credentials",
    ),
    th.Property(
        "warehouse_dir",
        th.StringType,
        default="warehouse",
        description="Folder of the embedded SQLite catalog and file warehouse (no `catalog`)",
    ),
    th.Property("namespace", th.StringType, default="default", description="Iceberg namespace"),
    th.Property("table_names", STRING_MAP, description="Table name per stream (default: stream name)"),
    th.Property("table_properties", STRING_MAP, description="Properties set on tables created"),
    th.Property(
        "write_mode",
        th.StringType,
        allowed_values=list(WRITE_MODES),
        description="append | merge | overwrite; default: what load_method says, else merge for "
        "streams with key properties and a replication key (bookmark_properties), else append",
    ),
    th.Property("branch", th.StringType, description="Iceberg branch to write (created if missing)"),
    th.Property(
        "partitioning",
        th.ArrayType(th.StringType),
        description="ingest_date, column, year|month|day|hour(col), bucket(N, col), truncate(W, col)",
    ),
    th.Property(
        "replace_changed_files",
        th.BooleanType,
        default=True,
        description="When records carry _sdc_source_file and _sdc_source_version (tap-csv does), "
        "keep both columns and delete the rows of a file's earlier versions in the commit that adds "
        "its new version (an edited file replaces its rows; a grown file only adds)",
    ),
    th.Property(
        "register_batch_files",
        th.BooleanType,
        default=True,
        description="Add a BATCH Parquet file to the table as it is (linked or copied, no row "
        "rewritten) when its columns already are the table's: unpartitioned table, flat columns "
        "of the same types, no nulls in required columns, no column policy; false rewrites every file",
    ),
    th.Property(
        "bookmark_check",
        th.BooleanType,
        default=True,
        description="Commit only while the table's newest bookmark is the one this run started from "
        "(see bookmark_at_start); false for writers that deliberately share one table and stream",
    ),
    partition_property(
        "in the snapshot summary as dativo.singer-state.<partition> (the compare-and-swap checks it alone)"
    ),
    th.Property(
        "bookmark_at_start",
        th.ObjectType(additional_properties=True),
        description="Per stream, the Singer state the table's bookmark held when the run's source "
        "read started (null: none). A commit lands only while the table's newest bookmark is still "
        "the one this run started from or last committed, so two runs of one job never land the "
        "same rows twice; the loser exits 75 with nothing written. Default: the table's bookmark "
        "when the target starts (dativo run passes the one it resumed from)",
    ),
    *SHARED_TARGET_PROPERTIES,
).to_dict()


def table_settings(
    stream_name: str,
    config: Mapping[str, Any],
    key_properties: list[str],
    bookmark_properties: list[str] | None,
) -> TableSettings:
    """Settings of one stream's table from the target config."""
    mode = config.get("write_mode") or effective_load_write_mode(config)
    if not mode:
        mode = "merge" if key_properties and bookmark_properties else "append"
    return TableSettings(
        namespace=namespace_for(config),
        name=table_name_for(stream_name, config),
        write_mode=mode,
        key_properties=list(key_properties),
        branch=config.get("branch"),
        partitioning=parse_partitioning(list(config.get("partitioning") or [])),
        table_properties=dict(config.get("table_properties") or {}),
        column_docs=dict(config.get("column_docs") or {}),
        strict=config.get("schema_mode") == "strict",
        replace_changed_files=config.get("replace_changed_files", True) is not False,
        name_mapping=config.get("register_batch_files", True) is not False,
        state_key=state_key(partition_of(config)),
    )
