"""Smoke test of the local test services: pyiceberg writes and reads back a table through
every catalog x store combination (tests/services.py), and DuckDB reads the file-warehouse ones.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pytest
from pyiceberg.catalog import load_catalog

pytestmark = pytest.mark.integration

ROWS = pa.table(
    {
        "id": pa.array([1, 2, 3], pa.int64()),
        "name": pa.array(["ada", "grace", "linus"], pa.string()),
    }
)


def _duckdb_with_iceberg():
    duckdb = pytest.importorskip("duckdb")
    ext_iceberg = pytest.importorskip("duckdb_extension_iceberg")
    ext_avro = pytest.importorskip("duckdb_extension_avro")
    con = duckdb.connect(
        config={"allow_unsigned_extensions": "true", "autoinstall_known_extensions": "false"}
    )
    for pkg, name in ((ext_avro, "avro"), (ext_iceberg, "iceberg")):
        found = sorted(Path(pkg.__path__[0]).glob(f"extensions/*/{name}.duckdb_extension"))
        if not found:
            pytest.skip(f"no {name}.duckdb_extension in {pkg.__path__[0]}")
        con.execute(f"LOAD '{found[-1]}'")
    return con


def test_catalog_roundtrip(catalog_props, catalog_namespace):
    catalog = load_catalog("smoke", **catalog_props)
    catalog.create_namespace(catalog_namespace)
    ident = f"{catalog_namespace}.people"
    table = catalog.create_table(ident, schema=ROWS.schema)
    table.append(ROWS, snapshot_properties={"k": "v"})

    reloaded = catalog.load_table(ident)
    got = reloaded.scan().to_arrow().sort_by("id")
    assert got.column("id").to_pylist() == [1, 2, 3]
    assert got.column("name").to_pylist() == ["ada", "grace", "linus"]
    snapshot = reloaded.current_snapshot()
    assert snapshot is not None
    assert snapshot.summary["k"] == "v"
    assert snapshot.summary["added-records"] == "3"

    if catalog_props["warehouse"].startswith("file://"):
        metadata = unquote(urlparse(reloaded.metadata_location).path)
        con = _duckdb_with_iceberg()
        rows = con.execute(f"SELECT id, name FROM iceberg_scan('{metadata}') ORDER BY id").fetchall()
        assert rows == [(1, "ada"), (2, "grace"), (3, "linus")]
