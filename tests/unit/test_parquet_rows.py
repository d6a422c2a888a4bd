"""The runner's Parquet row count (read from the footer without Arrow) is Arrow's, whatever the
file holds; a file that is not Parquet is refused."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dativo_runner.parquet_rows import parquet_num_rows


def _tables() -> list[tuple[pa.Table, dict[str, object]]]:
    rows = 70_000
    flat = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "name": pa.array([f"n{i % 97}" for i in range(rows)]),
            "flag": pa.array([i % 3 == 0 for i in range(rows)]),
            "amount": pa.array([decimal.Decimal(i) / 100 for i in range(rows)], pa.decimal128(12, 2)),
            "at": pa.array(
                [dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)] * rows, pa.timestamp("us", "UTC")
            ),
        }
    )
    nested = pa.table(
        {
            "tags": pa.array([[1, 2], [], None, [3]] * 5, pa.list_(pa.int32())),
            "point": pa.array(
                [{"x": 1.5, "y": None}] * 20, pa.struct([("x", pa.float64()), ("y", pa.float64())])
            ),
            "attrs": pa.array([[("a", True), ("b", False)]] * 20, pa.map_(pa.string(), pa.bool_())),
        }
    )
    with_metadata = flat.slice(0, 10).replace_schema_metadata({"k" * 40: "v" * 5000, "b": ""})
    return [
        (flat, {"row_group_size": 16_384, "compression": "snappy"}),
        (flat, {"use_dictionary": False, "compression": "zstd", "write_statistics": False}),
        (nested, {}),
        (with_metadata, {"compression": "none"}),
        (flat.slice(0, 0), {}),
    ]


@pytest.mark.parametrize("case", range(5))
def test_row_count_is_arrows(tmp_path: Path, case: int) -> None:
    table, options = _tables()[case]
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, **options)  # type: ignore[arg-type]
    assert parquet_num_rows(path) == pq.read_metadata(path).num_rows == table.num_rows


def test_a_file_that_is_not_parquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_bytes(b"id,name\n1,a\n")
    with pytest.raises(ValueError, match="not a Parquet file"):
        parquet_num_rows(path)
    pq.write_table(pa.table({"id": [1, 2]}), path)
    data = path.read_bytes()
    path.write_bytes(data[:4] + data[-20:])  # the footer's length points before the file
    with pytest.raises((ValueError, OSError)):
        parquet_num_rows(path)
