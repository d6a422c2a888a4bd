"""Opening the Iceberg catalog named by the config, or the embedded default one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pyiceberg.catalog import Catalog, load_catalog

from dativo_singer.errors import DativoSingerError, FatalError, RetriableError
from dativo_singer.service_retry import causes
from dativo_singer.service_retry import is_unreachable as service_unreachable
from target_iceberg.local_metadata import CATALOG_NAME as CATALOG_NAME  # re-exported

DEFAULT_WAREHOUSE_DIR = "warehouse"


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
    """Load the configured catalog; the embedded default's folder is created first and opened
    with ``sqlite3`` alone (``sqlite_catalog``). Applies the
    null list<struct> workaround first (every read or write of ours goes through here; pyiceberg
    loads the Arrow I/O module it patches with any table anyway)."""
    from target_iceberg.pyiceberg_internals import keep_null_lists_of_structs

    keep_null_lists_of_structs()
    props = catalog_properties(config)
    name = props.pop("name", CATALOG_NAME)
    if not config.get("catalog"):
        Path(config.get("warehouse_dir") or DEFAULT_WAREHOUSE_DIR).mkdir(parents=True, exist_ok=True)
        from target_iceberg.sqlite_catalog import SqliteCatalog, ready_for_sqlite3, sqlite_file

        path = sqlite_file(props["uri"])
        if path is not None and ready_for_sqlite3(path):
            return SqliteCatalog(name, **props)
    for attempt in (1, 2):
        try:
            return load_catalog(name, **props)
        except Exception as exc:  # pyiceberg raises many kinds; name the catalog kind and the cause
            # A SQL catalog's first open creates its tables: another process creating them at the
            # same moment makes this one's CREATE fail ("already exists"); opening again finds them.
            if attempt == 1 and "already exists" in str(exc):
                continue
            raise classify_catalog_error(
                f"cannot open Iceberg catalog (type {props.get('type', '?')})", exc
            ) from None
    raise AssertionError("unreachable")


# pyiceberg's REST client errors for a catalog that answered 5xx or could not say whether a
# commit landed: transient (a commit is looked up before it is made again).
_TRANSIENT_CATALOG_ERRORS = ("ServerError", "ServiceUnavailableError", "CommitStateUnknownException")


def is_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause) says the catalog or store could not be reached (refused,
    timed out, dropped, 5xx from a REST catalog): a later attempt may pass. Missing files, bad
    paths and permissions are configuration, not connectivity."""
    if service_unreachable(exc):
        return True
    return any(type(cause).__name__ in _TRANSIENT_CATALOG_ERRORS for cause in causes(exc))


def describe_catalog(catalog: Catalog) -> str:
    """``Iceberg catalog <type> <uri> (warehouse <w>, store <endpoint>)`` without credentials,
    the service named in retry warnings and errors."""
    props = catalog.properties
    kind = props.get("type") or ("rest" if str(props.get("uri", "")).startswith("http") else "sql")
    parts = [f"Iceberg {kind} catalog {_without_credentials(str(props.get('uri', '')))}".rstrip()]
    extras = [f"warehouse {_without_credentials(str(props['warehouse']))}"] if props.get("warehouse") else []
    if props.get("s3.endpoint"):
        extras.append(f"S3 {props['s3.endpoint']}")
    if any(key.startswith("adls.") for key in props):
        extras.append("Azure Blob")
    return parts[0] + (f" ({', '.join(extras)})" if extras else "")


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def classify_catalog_error(context: str, exc: BaseException) -> DativoSingerError:
    """One line ``<context>: <Type>: <message>``: ``RetriableError`` when unreachable, else
    ``FatalError``."""
    if isinstance(exc, DativoSingerError):
        return exc
    kind = RetriableError if is_unreachable(exc) else FatalError
    return kind(f"{context}: {type(exc).__name__}: {exc}")
