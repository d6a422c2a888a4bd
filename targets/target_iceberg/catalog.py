"""Opening the Iceberg catalog named by the config, or the embedded default one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pyiceberg.catalog import Catalog, load_catalog

from dativo_singer.errors import FatalError

DEFAULT_WAREHOUSE_DIR = "warehouse"
CATALOG_NAME = "dativo"


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
    """Load the configured catalog; the embedded default's folder is created first."""
    props = catalog_properties(config)
    if not config.get("catalog"):
        Path(config.get("warehouse_dir") or DEFAULT_WAREHOUSE_DIR).mkdir(parents=True, exist_ok=True)
    try:
        return load_catalog(props.pop("name", CATALOG_NAME), **props)
    except Exception as exc:  # pyiceberg raises many kinds; name the catalog kind and the cause
        raise FatalError(
            f"cannot open Iceberg catalog (type {props.get('type', '?')}): {type(exc).__name__}: {exc}"
        ) from None
