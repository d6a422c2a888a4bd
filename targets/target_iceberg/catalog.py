"""Opening the Iceberg catalog named by the config, or the embedded default one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import requests
from pyiceberg.catalog import Catalog, load_catalog

from dativo_singer.errors import DativoSingerError, FatalError, RetriableError
from target_iceberg.local_metadata import CATALOG_NAME as CATALOG_NAME  # re-exported

DEFAULT_WAREHOUSE_DIR = "warehouse"
_CONFIG_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
_CONNECTION_MARKERS = (
    "connection refused",
    "could not connect",
    "connection timed out",
    "timeout expired",
    "server closed the connection",
    "connection reset",
    "can't connect",
)


def embedded_catalog_properties(warehouse_dir: str | os.PathLike[str]) -> dict[str, str]:
    """pyiceberg SQL catalog on SQLite plus a local ``file://`` warehouse in ``warehouse_dir``."""
    root = Path(warehouse_dir).resolve()
    return {
        "type": "sql",
        "uri": f"sqlite:///{root / 'catalog.db'}",
        "warehouse": root.as_uri(),
    }


def catalog_properties(config: dict[str, Any]) -> dict[str, str]:
    """The catalog properties of a target config: ``catalog`` verbatim, else the embedded default."""
    props = config.get("catalog")
    if props:
        return {str(k): str(v) for k, v in props.items()}
    return embedded_catalog_properties(config.get("warehouse_dir") or DEFAULT_WAREHOUSE_DIR)


def open_catalog(config: dict[str, Any]) -> Catalog:
    """Load the configured catalog; the embedded default's folder is created first. Applies the
    null list<struct> workaround first (every read or write of ours goes through here; pyiceberg
    loads the Arrow I/O module it patches with any table anyway)."""
    from target_iceberg.pyiceberg_internals import keep_null_lists_of_structs

    keep_null_lists_of_structs()
    props = catalog_properties(config)
    if not config.get("catalog"):
        Path(config.get("warehouse_dir") or DEFAULT_WAREHOUSE_DIR).mkdir(parents=True, exist_ok=True)
    try:
        return load_catalog(props.pop("name", CATALOG_NAME), **props)
    except Exception as exc:  # pyiceberg raises many kinds; name the catalog kind and the cause
        raise classify_catalog_error(
            f"cannot open Iceberg catalog (type {props.get('type', '?')})", exc
        ) from None


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def is_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause) says the catalog or store could not be reached: a refused
    or timed-out connection, which a later attempt may pass. Missing files, bad paths and
    permissions are configuration, not connectivity."""
    for cause in _causes(exc):
        if isinstance(cause, _CONFIG_OS_ERRORS):
            return False
        if isinstance(cause, (ConnectionError, TimeoutError, requests.ConnectionError, requests.Timeout)):
            return True
        if type(cause).__name__ == "OperationalError":  # sqlalchemy/DB-API: only connection failures
            text = str(cause).lower()
            return any(marker in text for marker in _CONNECTION_MARKERS)
        if isinstance(cause, OSError):
            return True
    return False


def classify_catalog_error(context: str, exc: BaseException) -> DativoSingerError:
    """One line ``<context>: <Type>: <message>``: ``RetriableError`` when unreachable, else
    ``FatalError``."""
    if isinstance(exc, DativoSingerError):
        return exc
    kind = RetriableError if is_unreachable(exc) else FatalError
    return kind(f"{context}: {type(exc).__name__}: {exc}")
