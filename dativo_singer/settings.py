"""Config every Dativo target shares: conversion, policies, dead letters and commit thresholds.

singer-sdk adds its own settings (``stream_maps``, ``flattening_*``, ``batch_config``,
``process_activate_version_messages``...) unless a target declares them first: those it declares
with another default or meaning (``batch_size_rows``, ``load_method``, ``add_record_metadata``)
are declared here. ``refuse_unsupported_settings`` turns settings a Dativo target cannot honour
into one clear error at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from singer_sdk import typing as th

from dativo_singer.errors import FatalError

DEFAULT_BATCH_ROWS = 500_000
DEFAULT_BATCH_BYTES = 256 * 1024 * 1024
DEFAULT_BATCH_SECONDS = 300.0

# singer-sdk's load_method → the write mode it means.
LOAD_METHOD_WRITE_MODES = {"append-only": "append", "upsert": "merge", "overwrite": "overwrite"}

STRING_MAP = th.ObjectType(additional_properties=th.StringType)

SHARED_TARGET_PROPERTIES: list[th.Property] = [
    th.Property(
        "schema_mode",
        th.StringType,
        allowed_values=["strict", "relaxed"],
        default="relaxed",
        description="strict: dead-letter records off the schema; relaxed: evolve the table",
    ),
    th.Property(
        "nested",
        th.StringType,
        allowed_values=["json", "struct"],
        default="json",
        description="Objects and arrays as JSON text or as structs and lists",
    ),
    th.Property(
        "column_policies",
        STRING_MAP,
        description="Column → allow | hash | mask | drop, applied before writing",
    ),
    th.Property("hash_salt", th.StringType, secret=True, description="Salt for hashed columns"),
    th.Property(
        "column_policies_applied",
        th.BooleanType,
        default=False,
        description="Values arrive with column_policies applied already (by the tap, under "
        "`dativo run`): they are not applied a second time",
    ),
    th.Property("column_docs", STRING_MAP, description="Column → documentation"),
    th.Property(
        "dead_letter_dir",
        th.StringType,
        default="dead_letter",
        description="Folder for rejected records (JSON lines with the reason)",
    ),
    th.Property(
        "batch_size_rows",
        th.IntegerType,
        default=DEFAULT_BATCH_ROWS,
        description="Commit (at the next STATE) when a stream has this many rows buffered",
    ),
    th.Property(
        "batch_size_bytes",
        th.IntegerType,
        default=DEFAULT_BATCH_BYTES,
        description="Commit when this many input bytes are buffered",
    ),
    th.Property(
        "batch_seconds",
        th.NumberType,
        default=DEFAULT_BATCH_SECONDS,
        description="Commit when the oldest buffered record is this old",
    ),
    th.Property(
        "commit_records_after_last_state",
        th.BooleanType,
        default=True,
        description="At a clean end of input, commit every record received, with the last STATE "
        "(Singer's convention). false: commit only what a STATE covers, and fail (exit 2) naming "
        "the records after the last one; dativo run sets this, and closes the target's input only "
        "after the tap exited 0",
    ),
    th.Property(
        "fail_on_rejects",
        th.BooleanType,
        default=False,
        description="Exit 1 at end of input when any record was dead-lettered (partial success: "
        "the other rows are committed and their STATE emitted first); by default exit 0",
    ),
    th.Property(
        "add_record_metadata",
        th.BooleanType,
        default=False,
        description="Add singer-sdk's _sdc_* metadata columns (extracted/received/batched/"
        "deleted_at, sequence, table_version, sync_started_at) filled per record",
    ),
    th.Property(
        "load_method",
        th.StringType,
        allowed_values=list(LOAD_METHOD_WRITE_MODES),
        description="singer-sdk's load method: append-only (write_mode append), upsert (merge on "
        "the key properties; a stream without keys is an error), overwrite (full replace). "
        "Unset: write_mode decides",
    ),
]

EMIT_ACTIVATE_VERSION = "emit_activate_version_messages"


def emit_activate_version_property(default: bool) -> th.Property:
    """A tap's ``emit_activate_version_messages`` (a boolean, so Meltano passes one)."""
    return th.Property(
        EMIT_ACTIVATE_VERSION,
        th.BooleanType,
        default=default,
        description="Full-table streams (no replication key) start with ACTIVATE_VERSION, so a "
        "target that honours it (target-iceberg, singer-sdk SQL targets) replaces the stream's "
        "rows each run instead of adding a second copy",
    )


def emits_activate_version(config: Mapping[str, Any], default: bool) -> bool:
    """The setting's value: only a JSON ``true`` turns it on (``"false"`` never does; a
    non-boolean is refused by the config schema first), unset means ``default``."""
    value = config.get(EMIT_ACTIVATE_VERSION)
    return default if value is None else value is True


# Settings singer-sdk's SQL targets know that a Dativo target has no use for: refused when set,
# so that nobody believes they took effect.
_UNSUPPORTED: dict[str, str] = {
    "hard_delete": "records are never deleted from the table; _sdc_deleted_at is kept as a "
    "column with add_record_metadata",
    "default_target_schema": "use 'namespace'",
    "max_record_age": "use 'batch_seconds' (commits happen at STATE boundaries)",
}


def effective_load_write_mode(config: Mapping[str, Any]) -> str | None:
    """The write mode ``load_method`` asks for (None when unset); a ``write_mode`` that
    disagrees with it is refused."""
    method = config.get("load_method")
    if not method:
        return None
    mode = LOAD_METHOD_WRITE_MODES[method]
    chosen = config.get("write_mode")
    if chosen and chosen != mode:
        raise FatalError(
            f"settings 'load_method' ({method}) and 'write_mode' ({chosen}) disagree: "
            f"{method} means write_mode {mode}; set one of them"
        )
    return mode


def refuse_unsupported_settings(config: Mapping[str, Any]) -> None:
    """One clear error for a setting that is set but cannot be honoured."""
    for name, why in _UNSUPPORTED.items():
        if config.get(name) not in (None, False):
            raise FatalError(f"setting '{name}' is not supported: {why}")
    if config.get("validate_records") is False:
        raise FatalError(
            "setting 'validate_records' is not supported: false: values are always checked "
            "against the stream schema as they are converted to Arrow (records that do not fit "
            "are dead-lettered, see schema_mode)"
        )
    effective_load_write_mode(config)


PARTITION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")  # the whole value (fullmatch)


def partition_property(where: str) -> th.Property:
    """The ``partition`` setting of a target: ``where`` says where its bookmark is kept."""
    return th.Property(
        "partition",
        th.StringType,
        description=f"The partition of a partitioned job this run loads: its bookmark is kept {where}, "
        "apart from every other partition's, so partitions load one destination side by side "
        "(letters, digits, '-' and '_')",
    )


def partition_of(config: Mapping[str, Any]) -> str | None:
    """The ``partition`` setting, checked (it becomes part of a property name or a key)."""
    partition = config.get("partition")
    if partition is None or partition == "":
        return None
    if not isinstance(partition, str) or not PARTITION_PATTERN.fullmatch(partition):
        raise FatalError(f"partition: {partition!r} is not letters, digits, '-' and '_' (at most 63)")
    return partition
