"""DuckDB's iceberg_scan as an independent reader of our tables (extensions from site-packages)."""

from __future__ import annotations

import glob
import os
from typing import Any

import duckdb


def _extension_file(package: str, name: str) -> str:
    module = __import__(package)
    base = os.path.dirname(module.__file__)
    found = glob.glob(os.path.join(base, "extensions", "*", f"{name}.duckdb_extension"))
    if not found:
        raise RuntimeError(f"{package} ships no {name}.duckdb_extension")
    return found[0]


def connect() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the iceberg and avro extensions loaded offline."""
    con = duckdb.connect(
        config={
            "allow_unsigned_extensions": "true",
            "autoinstall_known_extensions": "false",
            "autoload_known_extensions": "false",
        }
    )
    con.execute(f"LOAD '{_extension_file('duckdb_extension_avro', 'avro')}'")
    con.execute(f"LOAD '{_extension_file('duckdb_extension_iceberg', 'iceberg')}'")
    return con


def scan(metadata_location: str, query: str = "SELECT * FROM t") -> list[tuple[Any, ...]]:
    """Rows of ``query`` over ``t`` = iceberg_scan(metadata file)."""
    path = metadata_location.removeprefix("file://")
    con = connect()
    con.execute(f"CREATE VIEW t AS SELECT * FROM iceberg_scan('{path}')")
    return con.execute(query).fetchall()
