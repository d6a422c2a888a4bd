"""Reading what target-objects wrote, independently of its code: the store's own client (boto3,
azure-storage-blob, the file system), the manifests as JSON, and each format's plain decoder."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pyarrow.parquet as pq
import zstandard

from tests import services


class Bucket(Protocol):
    """A bucket, container or folder as a test reads it."""

    def keys(self, prefix: str) -> list[str]: ...
    def get(self, key: str) -> bytes: ...
    def metadata(self, key: str) -> dict[str, str]: ...
    def put(self, key: str, data: bytes) -> None: ...


def s3_client(access_key: str | None = None, secret_key: str | None = None) -> Any:
    """A boto3 client of the local SeaweedFS."""
    import boto3
    from botocore.config import Config

    sw = services.seaweedfs()
    return boto3.client(
        "s3",
        endpoint_url=sw.s3_endpoint,
        aws_access_key_id=access_key or sw.access_key,
        aws_secret_access_key=secret_key or sw.secret_key,
        region_name=sw.region,
        config=Config(s3={"addressing_style": "path"}),
    )


@dataclass
class S3Bucket:
    client: Any
    name: str

    def keys(self, prefix: str) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def get(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.name, Key=key)["Body"].read())

    def metadata(self, key: str) -> dict[str, str]:
        return dict(self.client.head_object(Bucket=self.name, Key=key)["Metadata"])

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)


@dataclass
class MinioBucket:
    """The same S3 bucket read with the MinIO SDK (another S3 client than boto3)."""

    name: str

    @property
    def client(self) -> Any:
        from minio import Minio

        sw = services.seaweedfs()
        return Minio(f"{sw.host}:{sw.s3_port}", sw.access_key, sw.secret_key, secure=False, region=sw.region)

    def keys(self, prefix: str) -> list[str]:
        return sorted(
            o.object_name for o in self.client.list_objects(self.name, prefix=prefix, recursive=True)
        )

    def get(self, key: str) -> bytes:
        response = self.client.get_object(self.name, key)
        try:
            return bytes(response.read())
        finally:
            response.close()
            response.release_conn()

    def metadata(self, key: str) -> dict[str, str]:
        stat = self.client.stat_object(self.name, key)
        prefix = "x-amz-meta-"
        return {k.lower()[len(prefix) :]: v for k, v in stat.metadata.items() if k.lower().startswith(prefix)}

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(self.name, key, io.BytesIO(data), len(data))


@dataclass
class AzureContainer:
    client: Any  # azure.storage.blob.ContainerClient

    def keys(self, prefix: str) -> list[str]:
        return sorted(b.name for b in self.client.list_blobs(name_starts_with=prefix))

    def get(self, key: str) -> bytes:
        return bytes(self.client.download_blob(key).readall())

    def metadata(self, key: str) -> dict[str, str]:
        return dict(self.client.get_blob_client(key).get_blob_properties().metadata)

    def put(self, key: str, data: bytes) -> None:
        self.client.upload_blob(key, data, overwrite=True)


@dataclass
class LocalFolder:
    root: Path

    def keys(self, prefix: str) -> list[str]:
        if not self.root.is_dir():
            return []
        found = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        return sorted(k for k in found if k.startswith(prefix))

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def metadata(self, key: str) -> dict[str, str]:
        return {}

    def put(self, key: str, data: bytes) -> None:
        (self.root / key).parent.mkdir(parents=True, exist_ok=True)
        (self.root / key).write_bytes(data)


def s3_bucket() -> S3Bucket:
    services.ensure_up("seaweedfs")
    return S3Bucket(s3_client(), services.ensure_s3_bucket())


def azure_container() -> AzureContainer:
    from azure.storage.blob import ContainerClient

    services.ensure_up("azurite")
    name = services.ensure_azure_container("objects")
    return AzureContainer(ContainerClient.from_connection_string(services.azurite().connection_string, name))


def unique_prefix(label: str) -> str:
    """A prefix no other test uses."""
    return f"t/{label}-{uuid.uuid4().hex[:10]}"


def bucket_of(config: dict[str, Any]) -> Bucket:
    """The bucket a target config writes to, as the tests read it."""
    if config.get("storage") == "s3":
        return S3Bucket(s3_client(), config["bucket"])
    if config.get("storage") == "azure":
        from azure.storage.blob import ContainerClient

        return AzureContainer(
            ContainerClient.from_connection_string(config["azure_connection_string"], config["bucket"])
        )
    return LocalFolder(Path(config["local_dir"]))


def stream_root(config: dict[str, Any], stream: str) -> str:
    parts = (config.get("prefix") or "", config.get("tenant") or "", stream)
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def manifests(bucket: Bucket, root: str) -> list[dict[str, Any]]:
    """The stream's manifests in name (commit) order."""
    return [json.loads(bucket.get(k)) for k in bucket.keys(f"{root}/_manifests/")]


def decompress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.decompress(data)
    if compression == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    return data


def read_file(data: bytes, fmt: str, compression: str) -> list[dict[str, Any]]:
    """One data file's rows: JSON values (decimals exact), CSV text, Parquet's Python values."""
    if fmt == "parquet":
        return list(pq.read_table(io.BytesIO(data)).to_pylist())
    text = decompress(data, compression).decode("utf-8")
    if fmt == "jsonl":
        return [json.loads(line, parse_float=Decimal) for line in text.splitlines() if line.strip()]
    return list(csv.DictReader(io.StringIO(text)))


def rows(bucket: Bucket, root: str, key: str = "id") -> list[dict[str, Any]] | None:
    """Every row the manifests name, sorted by ``key``; None when there is no manifest."""
    found = manifests(bucket, root)
    if not found:
        return None
    out = [
        row
        for m in found
        for f in m["files"]
        for row in read_file(bucket.get(f["key"]), m["format"], m["compression"])
    ]
    return sorted(out, key=lambda r: r[key])


def check_manifests_match_objects(bucket: Bucket, root: str) -> list[dict[str, Any]]:
    """Every data object under the root is named by exactly one manifest, with its size and
    SHA-256; returns the file entries."""
    entries = [f for m in manifests(bucket, root) for f in m["files"]]
    data_keys = [k for k in bucket.keys(root + "/") if not k.startswith(f"{root}/_manifests/")]
    assert sorted(f["key"] for f in entries) == data_keys
    for entry in entries:
        body = bucket.get(entry["key"])
        assert len(body) == entry["bytes"], entry["key"]
        assert hashlib.sha256(body).hexdigest() == entry["sha256"], entry["key"]
    return entries
