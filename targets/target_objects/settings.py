"""The target's config, declared once (shared properties from ``dativo_singer.settings``), and
``ObjectSettings``: the same values checked and typed, refused with one line when they cannot
be honoured."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from singer_sdk import typing as th

from dativo_singer.errors import FatalError
from dativo_singer.settings import (
    SHARED_TARGET_PROPERTIES,
    STRING_MAP,
    effective_load_write_mode,
    partition_of,
    partition_property,
)
from target_objects.formats import COMPRESSIONS, format_names, get_format
from target_objects.keys import DEFAULT_KEY_TEMPLATE, check_key_path, check_key_template, stream_segment

STORAGES = ("s3", "azure", "local")
DEFAULT_FILE_MAX_ROWS = 1_000_000
DEFAULT_FILE_MAX_BYTES = 128 * 1024 * 1024
MAX_METADATA_BYTES = 2048  # S3's limit on user metadata (Azure allows 8 KiB)
_METADATA_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")  # valid for S3 and Azure (C# identifiers)

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "storage",
        th.StringType,
        allowed_values=list(STORAGES),
        default="local",
        description="s3 (AWS, MinIO, SeaweedFS, any S3-compatible store) | azure | local",
    ),
    th.Property("bucket", th.StringType, description="S3 bucket, or Azure container"),
    th.Property("prefix", th.StringType, default="", description="Key prefix inside the bucket"),
    th.Property("tenant", th.StringType, default="", description="Tenant segment of every key"),
    th.Property(
        "endpoint",
        th.StringType,
        description="S3-compatible endpoint URL (MinIO, SeaweedFS...; empty for AWS), or "
        "the Azure blob endpoint (Azurite, sovereign clouds)",
    ),
    th.Property("region", th.StringType, description="S3 region"),
    th.Property("access_key_id", th.StringType, description="S3 access key id"),
    th.Property("secret_access_key", th.StringType, secret=True, description="S3 secret key"),
    th.Property("session_token", th.StringType, secret=True, description="S3 session token"),
    th.Property(
        "path_style",
        th.BooleanType,
        default=False,
        description="S3 path-style addressing (MinIO, SeaweedFS); else virtual-hosted",
    ),
    th.Property(
        "azure_connection_string",
        th.StringType,
        secret=True,
        description="Azure storage connection string (or account name + key / SAS token)",
    ),
    th.Property("azure_account_name", th.StringType, description="Azure storage account name"),
    th.Property("azure_account_key", th.StringType, secret=True, description="Azure account key"),
    th.Property("azure_sas_token", th.StringType, secret=True, description="Azure SAS token"),
    th.Property(
        "local_dir",
        th.StringType,
        default="objects",
        description="Folder that plays the bucket with storage local",
    ),
    th.Property(
        "format",
        th.StringType,
        allowed_values=format_names(),
        default="jsonl",
        description="File format of data files",
    ),
    th.Property(
        "markdown_kv_heading_field",
        th.StringType,
        description="format markdown_kv: the field whose value heads each record (## <value>); "
        "without it records are headed 'Record <n>', counting in each file",
    ),
    th.Property(
        "compression",
        th.StringType,
        allowed_values=list(COMPRESSIONS),
        default="none",
        description="none | gzip | zstd (Parquet: the column codec; others: the whole file)",
    ),
    th.Property(
        "file_max_rows",
        th.IntegerType,
        default=DEFAULT_FILE_MAX_ROWS,
        description="Start a new data file after this many rows",
    ),
    th.Property(
        "file_max_bytes",
        th.IntegerType,
        default=DEFAULT_FILE_MAX_BYTES,
        description="Start a new data file once one has about this many bytes",
    ),
    th.Property(
        "key_template",
        th.StringType,
        default=DEFAULT_KEY_TEMPLATE,
        description="Data file key below <prefix>/<tenant>/<stream>/; fields {ingest_date} "
        "{year} {month} {day} {hour} {run_id} {n} {ext} {stream} {tenant}; must hold "
        "{run_id} and {n}",
    ),
    th.Property(
        "object_metadata",
        STRING_MAP,
        description="Metadata set on every data file and manifest (owner, tags, "
        "classification); names are lowercase letters, digits and _",
    ),
    partition_property("in the manifests it writes (their partition field)"),
    *SHARED_TARGET_PROPERTIES,
).to_dict()


@dataclass(frozen=True)
class ObjectSettings:
    """The checked settings of one target run."""

    storage: str
    bucket: str
    prefix: str
    tenant: str
    format: str
    compression: str
    file_max_rows: int
    file_max_bytes: int
    key_template: str
    metadata: dict[str, str] = field(default_factory=dict)
    format_options: dict[str, Any] = field(default_factory=dict)  # the format's own settings
    partition: str | None = None  # a partitioned job's partition: its manifests say so

    def stream_root(self, stream: str) -> str:
        """``<prefix>/<tenant>/<stream>`` (empty parts left out), no trailing slash; the stream
        name made one safe segment (``keys.stream_segment``)."""
        return "/".join(p for p in (self.prefix, self.tenant, stream_segment(stream)) if p)

    def manifest_prefix(self, stream: str) -> str:
        """Where a stream's manifests are: ``<stream root>/_manifests/``."""
        return f"{self.stream_root(stream)}/_manifests/"


def _require(config: Mapping[str, Any], *names: str) -> None:
    for name in names:
        if not config.get(name):
            raise FatalError(f"setting '{name}' is required with storage {config.get('storage')}")


def _check_credentials(config: Mapping[str, Any]) -> None:
    storage = config.get("storage") or "local"
    if storage == "s3":
        _require(config, "bucket")
        if bool(config.get("access_key_id")) != bool(config.get("secret_access_key")):
            raise FatalError(
                "settings 'access_key_id' and 'secret_access_key' go together: set both or neither"
            )
    elif storage == "azure":
        _require(config, "bucket")
        if not config.get("azure_connection_string"):
            _require(config, "azure_account_name")
            if not (config.get("azure_account_key") or config.get("azure_sas_token")):
                raise FatalError(
                    "storage azure needs 'azure_connection_string', or 'azure_account_name' with "
                    "'azure_account_key' or 'azure_sas_token'"
                )


def _check_metadata(metadata: Mapping[str, Any]) -> dict[str, str]:
    for name in metadata:
        if not _METADATA_NAME.fullmatch(str(name)):
            raise FatalError(
                f"object_metadata name {name!r} is not allowed: lowercase letters, digits and _, "
                "starting with a letter (S3 and Azure both accept it)"
            )
    values = {str(k): str(v) for k, v in metadata.items()}
    size = sum(len(k) + len(quote(v, safe="")) for k, v in values.items())
    if size > MAX_METADATA_BYTES:
        raise FatalError(
            f"object_metadata is about {size} bytes: S3 allows {MAX_METADATA_BYTES} bytes of user "
            "metadata per object; shorten the values (governance tags, owner)"
        )
    return values


def object_settings(config: Mapping[str, Any]) -> ObjectSettings:
    """The checked settings; one ``FatalError`` line for the first that cannot be honoured."""
    storage = config.get("storage") or "local"
    if storage not in STORAGES:
        raise FatalError(f"setting 'storage': {storage!r} is not one of {', '.join(STORAGES)}")
    _check_credentials(config)
    mode = config.get("write_mode") or effective_load_write_mode(config)
    if mode not in (None, "append"):
        raise FatalError(
            f"write mode {mode!r} is not supported: target-objects appends files (readers see "
            "every committed file through the manifests)"
        )
    fmt = get_format(str(config.get("format") or "jsonl"))
    compression = str(config.get("compression") or "none")
    if compression not in COMPRESSIONS:
        raise FatalError(f"setting 'compression': {compression!r} is not one of {', '.join(COMPRESSIONS)}")
    if config.get("nested") == "struct" and not fmt.nested:
        raise FatalError(f"setting 'nested': struct cannot be written as {fmt.name}; use json")
    if config.get("markdown_kv_heading_field") and fmt.name != "markdown_kv":
        raise FatalError(
            f"setting 'markdown_kv_heading_field' is only used with format markdown_kv, not {fmt.name}"
        )
    custom_template = config.get("key_template") not in (None, "", DEFAULT_KEY_TEMPLATE)
    if fmt.name == "raw" and (custom_template or compression != "none"):
        raise FatalError(
            "format 'raw' writes each file unchanged under its own path: no key_template or compression"
        )
    template = str(config.get("key_template") or DEFAULT_KEY_TEMPLATE)
    check_key_template(template)
    rows = int(config.get("file_max_rows") or DEFAULT_FILE_MAX_ROWS)
    nbytes = int(config.get("file_max_bytes") or DEFAULT_FILE_MAX_BYTES)
    if rows < 1 or nbytes < 1:
        raise FatalError("settings 'file_max_rows' and 'file_max_bytes' must be positive")
    return ObjectSettings(
        storage=storage,
        bucket=str(config.get("bucket") or ""),
        prefix=check_key_path("prefix", str(config.get("prefix") or "")),
        tenant=check_key_path("tenant", str(config.get("tenant") or "")),
        format=fmt.name,
        compression=compression,
        file_max_rows=rows,
        file_max_bytes=nbytes,
        key_template=template,
        metadata=_check_metadata(dict(config.get("object_metadata") or {})),
        format_options={"heading_field": config.get("markdown_kv_heading_field")},
        partition=partition_of(config),
    )
