"""Config every Dativo target shares: conversion, policies, dead letters and commit thresholds.

singer-sdk adds ``batch_size_rows`` (and ``add_record_metadata``, ``stream_maps``) by itself.
"""

from __future__ import annotations

from singer_sdk import typing as th

DEFAULT_BATCH_ROWS = 500_000
DEFAULT_BATCH_BYTES = 256 * 1024 * 1024
DEFAULT_BATCH_SECONDS = 300.0

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
    th.Property("column_docs", STRING_MAP, description="Column → documentation"),
    th.Property(
        "dead_letter_dir",
        th.StringType,
        default="dead_letter",
        description="Folder for rejected records (JSON lines with the reason)",
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
        default=False,
        description="At end of input, also commit records that came after the last STATE "
        "(by default they are not: input ending without a STATE covering them may be a tap that "
        "died, and a rerun reads them again). Taps that never send STATE are committed in full.",
    ),
]
