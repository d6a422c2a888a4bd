"""tap-markdown-kv settings: the config schema (shown by `--about`) and the start-up checks.

Every problem is phrased ``setting: what is wrong`` and all of them are joined in one line.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft7Validator
from singer_sdk import typing as th

from tap_markdown_kv.storage import STORAGES

FILE_ENTRY = th.ObjectType(
    th.Property("object", th.StringType, required=True, description="Stream name"),
    th.Property(
        "path",
        th.StringType,
        required=True,
        description="A file, a folder (its *.md and *.markdown files, recursively), a glob (`**` "
        "recurses), relative to `base_dir` unless absolute; or `s3://bucket/prefix` (a key, a prefix "
        "or a glob)",
    ),
    th.Property(
        "storage",
        th.StringType,
        allowed_values=list(STORAGES),
        default="document",
        description="string: one row per file with its Markdown; raw: one row per file with its "
        "bytes (base64), for target-objects; row_per_kv: one row per key; document: one row per "
        "record, keys as typed columns; hybrid: document plus the record's Markdown",
    ),
)

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "files",
        th.ArrayType(FILE_ENTRY),
        required=True,
        description="The documents to read: one entry per path, each naming its object (stream) "
        "and storage pattern; entries of one object share its storage",
    ),
    th.Property(
        "schemas",
        th.ObjectType(additional_properties=True),
        description="JSON Schema per object. document/hybrid: the typed columns keys are read into "
        "(without one, every key of the first file is a nullable string); string/raw/row_per_kv: "
        "must have the pattern's columns",
    ),
    th.Property(
        "key_properties",
        th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
        description="Primary key columns per object (string/raw: path; row_per_kv: path, "
        "record_index, key by default)",
    ),
    th.Property(
        "unrendered_columns",
        th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
        description="hybrid: per object, columns whose keys are left out of the record's Markdown "
        "(`dativo` lists the asset's columns a policy hashes, masks or drops)",
    ),
    th.Property("base_dir", th.StringType, description="Directory relative paths start from"),
    th.Property(
        "on_invalid_value",
        th.StringType,
        allowed_values=["fail", "pass"],
        default="fail",
        description="document/hybrid: fail stops naming file, line and key; pass emits the raw "
        "text and lets the target reject (dead-letter) the record",
    ),
    th.Property(
        "s3_endpoint_url",
        th.StringType,
        description="S3-compatible endpoint for s3:// paths (MinIO, SeaweedFS): http://host:port",
    ),
    th.Property("s3_access_key_id", th.StringType, description="Access key for s3:// paths"),
    th.Property("s3_secret_access_key", th.StringType, secret=True, description="Secret key for s3:// paths"),
    th.Property("s3_region", th.StringType, default="us-east-1", description="Region for s3:// paths"),
).to_dict()


def _entry_problems(i: int, entry: Any, storages: dict[str, str]) -> list[str]:
    where = f"files[{i}]"
    if not isinstance(entry, dict):
        return [f"{where}: expected an object with 'object', 'path' and 'storage'"]
    problems = [f"{where}: {key!r} is required" for key in ("object", "path") if not entry.get(key)]
    storage = entry.get("storage", "document")
    obj = entry.get("object")
    if storage not in STORAGES:
        problems.append(f"{where}.storage: {storage!r} is not one of {', '.join(STORAGES)}")
    elif isinstance(obj, str) and storages.setdefault(obj, storage) != storage:
        problems.append(f"{where}.storage: object {obj!r} is already read as {storages[obj]!r}")
    return problems


def config_problems(config: dict[str, Any]) -> list[str]:
    """Every problem of a tap-markdown-kv config, each one ``setting: what is wrong``."""
    files = config.get("files")
    if not isinstance(files, list) or not files:
        return ["files: is required: a list of {object, path, storage} entries"]
    storages: dict[str, str] = {}
    problems = [p for i, entry in enumerate(files) for p in _entry_problems(i, entry, storages)]
    if any(isinstance(e, dict) and str(e.get("path", "")).startswith("s3://") for e in files):
        endpoint = config.get("s3_endpoint_url")
        if endpoint and not str(endpoint).startswith(("http://", "https://")):
            problems.append(f"s3_endpoint_url: expected http://host:port or https://host, got {endpoint!r}")
    if problems:
        return problems
    for error in Draft7Validator(CONFIG_SCHEMA).iter_errors(config):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        secret = "s3_secret_access_key" in error.absolute_path
        problems.append(f"{where.lstrip('.') or 'config'}: {'is invalid' if secret else error.message}")
    return sorted(problems)
