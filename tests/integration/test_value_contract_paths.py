"""One value that must be rejected costs one dead-lettered row, never the run, on every path of
`dativo run`: tap-csv's BATCH files kept as they are by target-iceberg, the same files read and
rewritten (a partitioned table), and the RECORD path (``fast_path: false``). Each ends in exit
1 with the other rows landed exactly (read back with pyiceberg and DuckDB) and the rejected one
in the dead letter with its reason (docs/ICEBERG_TARGET.md, "Value contract")."""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import pytest
from target_iceberg.catalog import open_catalog

from tests.helpers import duckdb_reader
from tests.helpers.project import Project

pytestmark = pytest.mark.integration

ASSET = """\
asset:
  name: vals
  source_type: csv
  object: vals
  version: "1"
  primary_key: [id]
  schema:
    - name: id
      type: integer
      required: true
    - name: amount
      type: decimal(12,2)
    - name: score
      type: double
    - name: qty
      type: integer
    - name: day
      type: date
    - name: at
      type: timestamp
  governance:
    owner: data@example.com
  target:
    partitioning: [{partitioning}]
"""
HEADER = "id,amount,score,qty,day,at"
GOOD = [
    "1,1.50,0.5,3,2024-01-01,2024-01-01T10:00:00.123456Z",
    "2,-7.25,1e300,-4,2024-02-29,2024-01-01T10:00:00Z",
    "3,,,,,",
]
# (name, CSV row, the column whose value must be rejected)
REJECTED = [
    ("decimal scale", "10,1.005,1.0,1,2024-01-01,2024-01-01T00:00:00Z", "amount"),
    ("decimal rounding up", "11,1.999,1.0,1,2024-01-01,2024-01-01T00:00:00Z", "amount"),
    ("decimal tiny", "12,0.0049,1.0,1,2024-01-01,2024-01-01T00:00:00Z", "amount"),
    ("decimal precision", "13,12345678901.5,1.0,1,2024-01-01,2024-01-01T00:00:00Z", "amount"),
    ("decimal NaN", "14,NaN,1.0,1,2024-01-01,2024-01-01T00:00:00Z", "amount"),
    ("decimal infinity", "15,inf,1.0,1,2024-01-01,2024-01-01T00:00:00Z", "amount"),
    ("integer fraction", "16,1.00,1.0,2.7,2024-01-01,2024-01-01T00:00:00Z", "qty"),
    ("negative fraction", "17,1.00,1.0,-2.7,2024-01-01,2024-01-01T00:00:00Z", "qty"),
    ("date with time", "18,1.00,1.0,1,2024-01-01T10:00:00Z,2024-01-01T00:00:00Z", "day"),
    ("nanoseconds", "19,1.00,1.0,1,2024-01-01,2024-01-01T10:00:00.123456789Z", "at"),
]
# Kept as IEEE values (Iceberg and Parquet hold them), never NULL.
NON_FINITE = [
    ("20,1.00,NaN,1,2024-01-01,", "nan"),
    ("21,1.00,inf,1,2024-01-01,", "inf"),
    ("22,1.00,-inf,1,2024-01-01,", "-inf"),
]
KEPT = "-batch.parquet"  # a tap's BATCH file added to the table as it is
PATHS = {
    "kept files": ({}, ""),
    "rewritten files": ({}, "qty"),
    "records": ({"fast_path": False}, "ingest_date"),
}


def _run(project: Project, path: str, rows: list[str]) -> tuple[int, str, list[dict[str, Any]]]:
    source_extra, partitioning = PATHS[path]
    project.write("assets/custom/v1/vals.yaml", ASSET.format(partitioning=partitioning))
    project.write("data/vals/v.csv", "\n".join([HEADER, *rows]) + "\n")
    job = project.write_job(
        "vals",
        {
            "tenant_id": "acme",
            "source_connector": "csv",
            "source_connector_path": "connectors/sources/csv.yaml",
            "target_connector": "iceberg",
            "target_connector_path": "connectors/targets/iceberg.yaml",
            "asset": "vals",
            "asset_path": "assets/custom/v1/vals.yaml",
            "source": {
                "objects": ["vals"],
                "files": [{"object": "vals", "path": "data/vals/*.csv"}],
                **source_extra,
            },
            "target": {},
        },
    )
    result = project.dativo("run", "--config", str(job))
    letters = [
        json.loads(line)
        for file in project.files_under("dead_letter")
        for line in file.read_text(encoding="utf-8").splitlines()
    ]
    return result.returncode, result.stdout + result.stderr, letters


def _table(project: Project) -> Any:
    return open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.vals")


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(("kind", "row", "column"), REJECTED, ids=[r[0] for r in REJECTED])
def test_a_value_that_must_be_rejected_costs_one_row(
    project: Project, path: str, kind: str, row: str, column: str
) -> None:
    code, output, letters = _run(project, path, [*GOOD[:2], row, GOOD[2]])
    assert code == 1, output
    assert "internal error" not in output
    assert "1 record(s) rejected" in output, output
    [letter] = letters
    assert str(letter["record"]["id"]) == row.split(",")[0]
    assert repr(column) in letter["reason"], letter["reason"]

    table = _table(project)
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert [r["id"] for r in rows] == [1, 2, 3]
    assert [r["amount"] for r in rows] == [Decimal("1.50"), Decimal("-7.25"), None]
    assert [r["score"] for r in rows] == [0.5, 1e300, None]
    assert [r["qty"] for r in rows] == [3, -4, None]
    assert rows[0]["at"].microsecond == 123456
    kept = [f for f in table.inspect.files().column("file_path").to_pylist() if f.endswith(KEPT)]
    assert bool(kept) == (path == "kept files")
    read = duckdb_reader.scan(table.metadata_location, "SELECT id, amount, qty FROM t ORDER BY id")
    assert read == [(1, Decimal("1.50"), 3), (2, Decimal("-7.25"), -4), (3, None, None)]


@pytest.mark.parametrize("path", list(PATHS))
def test_non_finite_doubles_land_as_ieee_values(project: Project, path: str) -> None:
    code, output, letters = _run(project, path, [GOOD[0], *(row for row, _ in NON_FINITE)])
    assert code == 0, output
    assert letters == []
    rows = sorted(_table(project).scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    scores = [r["score"] for r in rows]
    assert scores[0] == 0.5
    assert math.isnan(scores[1]) and scores[2] == math.inf and scores[3] == -math.inf
