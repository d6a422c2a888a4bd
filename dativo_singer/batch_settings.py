"""The ``batch_config`` setting of our taps: the Parquet codecs written, the JSON-lines codecs
checked, the Parquet writer's options (no Arrow needed: a tap without the columnar path reads
these too)."""

from __future__ import annotations

import copy
from typing import Any

from singer_sdk.helpers.capabilities import BATCH_CONFIG

from dativo_singer.sdk_internals import BaseBatchFileEncoding, BatchConfig, merge_missing_config_jsonschema

ROW_GROUP_ROWS = 128 * 1024
# No dictionary pages: files read once, soon after; writing them costs a third of the time.
WRITE_OPTIONS: dict[str, Any] = {"row_group_size": ROW_GROUP_ROWS, "use_dictionary": False}
PARQUET_COMPRESSIONS = frozenset({"snappy", "gzip", "zstd", "lz4", "brotli", "none"})


def batch_config_schema() -> dict[str, Any]:
    """singer-sdk's ``batch_config`` setting, its compression listing the Parquet codecs this
    emitter writes (singer-sdk's own schema lists only gzip and none)."""
    schema = copy.deepcopy(BATCH_CONFIG)
    encoding = schema["properties"]["batch_config"]["properties"]["encoding"]
    compression = encoding["properties"]["compression"]
    compression["enum"] = sorted(PARQUET_COMPRESSIONS)
    compression["description"] = "Compression of batch files (Parquet codecs; gzip or none for jsonl)."
    return schema


def append_parquet_batch_config(config_jsonschema: dict[str, Any]) -> None:
    """Put this emitter's ``batch_config`` in a tap's config schema before singer-sdk adds its
    own (which it then skips): validation and ``--about`` agree, whatever ran first."""
    merge_missing_config_jsonschema(batch_config_schema(), config_jsonschema)


JSONL_COMPRESSIONS = frozenset({"gzip", "none"})


def jsonl_codec_problems(config: dict[str, Any]) -> list[str]:
    """A JSON-lines ``batch_config`` asking for a codec singer-sdk's JSONL batcher does not write
    (it would write the files uncompressed): refused, as the Parquet codecs are listed too."""
    encoding = (config.get("batch_config") or {}).get("encoding") or {}
    codec = encoding.get("compression")
    if encoding.get("format") == "jsonl" and codec is not None and codec not in JSONL_COMPRESSIONS:
        return [
            f"batch_config.encoding.compression: {codec!r} is not written for jsonl batches (gzip or none)"
        ]
    return []


def parquet_compression(encoding: BaseBatchFileEncoding) -> str:
    """The Parquet codec for a BATCH encoding: its ``compression`` (``none`` for none), else
    snappy (singer-sdk's Parquet batcher default)."""
    compression = (encoding.compression or "snappy").lower()
    if compression not in PARQUET_COMPRESSIONS:
        raise ValueError(
            f"batch_config.encoding.compression: {encoding.compression!r} is not a Parquet codec "
            f"({', '.join(sorted(PARQUET_COMPRESSIONS))})"
        )
    return compression


def parquet_batch_config(config: dict[str, Any]) -> BatchConfig | None:
    """The tap's ``batch_config`` when it asks for Parquet files, else None (RECORD messages, or
    singer-sdk's own JSONL batches)."""
    raw = config.get("batch_config")
    if not raw:
        return None
    batch_config = BatchConfig.from_dict(dict(raw))
    return batch_config if batch_config.encoding.format == "parquet" else None
