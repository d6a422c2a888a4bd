"""Azure Blob Storage (and Azurite) through azure-storage-blob."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings

from dativo_singer.errors import FatalError, RetriableError
from target_objects.stores import ObjectStore, StoredObject, header_safe

# The SDK logs every request at INFO; the target's own lines say what happened.
logging.getLogger("azure").setLevel(logging.WARNING)


def _code(exc: HttpResponseError) -> str:
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code) or exc.status_code)


_CLIENT_OPTIONS: dict[str, Any] = {"retry_total": 2, "connection_timeout": 10, "read_timeout": 120}


def _service(config: Mapping[str, Any]) -> tuple[BlobServiceClient, str]:
    """The service client and, for messages, its endpoint (never a credential)."""
    if config.get("azure_connection_string"):
        try:
            service = BlobServiceClient.from_connection_string(
                str(config["azure_connection_string"]), **_CLIENT_OPTIONS
            )
        except ValueError:
            raise FatalError("setting 'azure_connection_string' is not a valid connection string") from None
        return service, service.url.split("?", 1)[0].rstrip("/")
    account = str(config["azure_account_name"])
    url = str(config.get("endpoint") or f"https://{account}.blob.core.windows.net")
    credential: Any
    if config.get("azure_account_key"):
        credential = {"account_name": account, "account_key": str(config["azure_account_key"])}
    else:
        credential = str(config["azure_sas_token"]).lstrip("?")
    return BlobServiceClient(account_url=url, credential=credential, **_CLIENT_OPTIONS), url


class AzureBlobStore(ObjectStore):
    """One container of a storage account."""

    def __init__(self, container: ContainerClient, name: str, where: str) -> None:
        self.container = container
        self.name = name
        self.where = where

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AzureBlobStore:
        """From ``bucket`` (the container) and the ``azure_*`` settings."""
        service, where = _service(config)
        name = str(config["bucket"])
        return cls(service.get_container_client(name), name, where)

    def url(self, key: str) -> str:
        return f"az://{self.name}/{key}"

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Azure errors as one line naming the container and endpoint. The SDK's messages can
        quote request URLs (with a SAS token), so they are never passed on."""
        container = f"container {self.name!r} at {self.where}"
        try:
            yield
        except ResourceNotFoundError as exc:
            if getattr(exc, "error_code", None) in (None, "ContainerNotFound"):
                raise FatalError(f"Azure {container} does not exist") from None
            raise FatalError(f"Azure {container}: not found while {action} ({_code(exc)})") from None
        except ClientAuthenticationError as exc:
            raise FatalError(
                f"Azure {container}: access denied ({_code(exc)}) "
                f"while {action}: check the account key, SAS token or connection string"
            ) from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise RetriableError(
                f"Azure endpoint {self.where} unreachable while {action}: {type(exc).__name__}"
            ) from None
        except HttpResponseError as exc:
            if exc.status_code in (401, 403):
                raise FatalError(
                    f"Azure {container}: access denied ({_code(exc)}) while "
                    f"{action}: check the account key, SAS token or connection string"
                ) from None
            status = int(exc.status_code or 500)
            kind = FatalError if 400 <= status < 500 and status not in (408, 429) else RetriableError
            raise kind(f"Azure {container}: {action} failed: {_code(exc)}") from None

    def check(self) -> None:
        with self._errors("checking the container"):
            self.container.get_container_properties()

    def put_bytes(self, key: str, data: bytes, content_type: str, metadata: Mapping[str, str]) -> None:
        with self._errors(f"writing {key}"):
            self.container.upload_blob(
                key,
                data,
                overwrite=True,
                metadata=header_safe(metadata),
                content_settings=ContentSettings(content_type=content_type),
            )

    def put_file(self, key: str, path: Path, content_type: str, metadata: Mapping[str, str]) -> None:
        with self._errors(f"writing {key}"), path.open("rb") as handle:
            self.container.upload_blob(
                key,
                handle,
                length=path.stat().st_size,
                overwrite=True,
                metadata=header_safe(metadata),
                content_settings=ContentSettings(content_type=content_type),
            )

    def get(self, key: str) -> bytes:
        with self._errors(f"reading {key}"):
            return bytes(self.container.download_blob(key).readall())

    def list_objects(self, prefix: str) -> list[StoredObject]:
        with self._errors(f"listing {prefix}"):
            found = [
                StoredObject(b.name, int(b.size), b.last_modified.timestamp())
                for b in self.container.list_blobs(name_starts_with=prefix)
            ]
        return sorted(found, key=lambda o: o.key)

    def delete(self, keys: list[str]) -> None:
        with self._errors("deleting blobs"):
            for key in keys:
                try:
                    self.container.delete_blob(key)
                except ResourceNotFoundError:
                    continue
