"""S3 and S3-compatible stores (AWS, MinIO, SeaweedFS) through boto3."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    NoCredentialsError,
    ProfileNotFound,
)

from dativo_singer.errors import FatalError, RetriableError
from target_objects.stores import ObjectStore, StoredObject, header_safe

_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}
_MISSING = {"404", "NoSuchBucket"}


class S3Store(ObjectStore):
    """One bucket of an S3-compatible endpoint."""

    def __init__(self, client: Any, bucket: str, where: str) -> None:
        self.client = client
        self.bucket = bucket
        self.where = where  # for messages: the endpoint, never a credential

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> S3Store:
        """From ``bucket``, ``endpoint``, ``region``, keys and ``path_style``."""
        endpoint = config.get("endpoint") or None
        try:
            session = boto3.session.Session()
        except ProfileNotFound as exc:
            raise FatalError(
                f"AWS_PROFILE: profile {exc.kwargs.get('profile')!r} is not in ~/.aws/config or "
                "~/.aws/credentials (unset AWS_PROFILE or name a profile there)"
            ) from None
        client = session.client(
            "s3",
            endpoint_url=endpoint,
            region_name=config.get("region") or None,
            aws_access_key_id=config.get("access_key_id") or None,
            aws_secret_access_key=config.get("secret_access_key") or None,
            aws_session_token=config.get("session_token") or None,
            config=Config(
                s3={"addressing_style": "path" if config.get("path_style") else "auto"},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=10,
                read_timeout=120,
            ),
        )
        return cls(client, str(config["bucket"]), str(endpoint or "AWS S3"))

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """S3 errors as one line naming the bucket and endpoint (never a credential)."""
        bucket = f"bucket {self.bucket!r} at {self.where}"
        try:
            yield
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
            if code in _MISSING:
                raise FatalError(f"S3 {bucket} does not exist") from None
            if code in _DENIED:
                raise FatalError(
                    f"S3 {bucket}: access denied ({code}) while {action}: check access_key_id and "
                    "secret_access_key and the bucket's permissions"
                ) from None
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
            kind = FatalError if 400 <= status < 500 and status not in (408, 429) else RetriableError
            raise kind(f"S3 {bucket}: {action} failed: {code} {error.get('Message', '')}".rstrip()) from None
        except NoCredentialsError:
            raise FatalError(
                f"S3 {bucket}: no credentials (set access_key_id and secret_access_key, or the "
                "AWS environment variables)"
            ) from None
        except ConnectionError as exc:
            raise RetriableError(
                f"S3 endpoint {self.where} unreachable while {action}: {type(exc).__name__}"
            ) from None
        except BotoCoreError as exc:
            raise RetriableError(f"S3 {bucket}: {action} failed: {type(exc).__name__}") from None

    def check(self) -> None:
        with self._errors("checking the bucket"):
            self.client.head_bucket(Bucket=self.bucket)

    def put_file(self, key: str, path: Path, content_type: str, metadata: Mapping[str, str]) -> None:
        extra = {"ContentType": content_type, "Metadata": header_safe(metadata)}
        with self._errors(f"writing {key}"):
            self.client.upload_file(str(path), self.bucket, key, ExtraArgs=extra)

    def put_bytes(self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> None:
        with self._errors(f"writing {key}"):
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                Metadata=header_safe(metadata),
            )

    def get(self, key: str) -> bytes:
        with self._errors(f"reading {key}"):
            return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def list_objects(self, prefix: str) -> list[StoredObject]:
        found = []
        with self._errors(f"listing {prefix}"):
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            ):
                for item in page.get("Contents", []):
                    found.append(
                        StoredObject(item["Key"], int(item["Size"]), item["LastModified"].timestamp())
                    )
        return sorted(found, key=lambda o: o.key)

    def delete(self, keys: list[str]) -> None:
        with self._errors("deleting objects"):
            for start in range(0, len(keys), 1000):
                chunk = [{"Key": k} for k in keys[start : start + 1000]]
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})
