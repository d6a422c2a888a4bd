"""record_lines: each column's JSON text in bulk is the per-record path's text of each value
(``values`` converter, then ``exact_json``), for values whose text is easy to get wrong."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa
import pytest

from dativo_singer.exact_json import exact_json
from dativo_singer.sql import types as k
from dativo_singer.sql.record_lines import RecordLineEncoder, column_parts
from dativo_singer.sql.values import record_converters

UTC = dt.timezone.utc


def _texts(column: pa.Array, kind: str) -> list[str]:
    convert = record_converters({"c": k.ColumnKind(kind, "")}).get("c")
    before, values, after = column_parts(column, kind, convert)
    return [before + value + after for value in values.to_pylist()]


def _expected(values: list[Any], kind: str) -> list[str]:
    convert = record_converters({"c": k.ColumnKind(kind, "")}).get("c")
    out = []
    for value in values:
        if value is not None and convert is not None:
            value = convert(value)
        out.append("null" if value is None else exact_json(value).decode())
    return out


STRINGS = ["plain", 'q"uote', "back\\slash", "ctl\x01\x1f", "nl\n\r\t", "\u2028é😀", "\x7f", "", None]
DECIMALS = [
    "0.14",
    "-0.50",
    "100",
    "0.000001",
    "0.0000001",
    "-0.0000000001",
    "0.0000000",
    "NaN",
    "Infinity",
    "-Infinity",
    "12345678901234567890123456789.0123456789",
    "-0",
    None,
]
FLOATS = [0.1, 1e16, 1e-7, -0.0, 5e-324, 1.7976931348623157e308, float("nan"), float("inf"), None]
MOMENTS = [
    dt.datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC),
    dt.datetime(2024, 1, 1, 0, 0, 1, 500000, tzinfo=UTC),
    dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    dt.datetime(1, 1, 1, tzinfo=UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]


@pytest.mark.parametrize(
    ("values", "arrow_type", "kind"),
    [
        (STRINGS, pa.string(), k.STRING),
        (STRINGS[:-1], pa.large_string(), k.STRING),  # no nulls: quotes left to the line join
        (["plain", "no escapes"], pa.string(), k.STRING),
        (DECIMALS, pa.string(), k.DECIMAL),
        (FLOATS, pa.float64(), k.FLOAT),
        ([1.1, 3.4e38, None], pa.float32(), k.FLOAT32),
        ([-(2**63), 2**63 - 1, 0, None], pa.int64(), k.INT),
        ([2**64 - 1, 0], pa.uint64(), k.UINT64),
        ([True, False, None], pa.bool_(), k.BOOLEAN),
        ([1, 0, -1, None], pa.int64(), k.INT_BOOLEAN),
        ([dt.date(1, 1, 1), dt.date(2024, 2, 29), None], pa.date32(), k.DATE),
        ([*MOMENTS, None], pa.timestamp("us", "UTC"), k.TIMESTAMPTZ),
        ([m.replace(microsecond=0) for m in MOMENTS], pa.timestamp("us", "UTC"), k.TIMESTAMPTZ),
        ([m.replace(tzinfo=None) for m in MOMENTS], pa.timestamp("us"), k.TIMESTAMP),
        (['{"b": 1, "a": [1.5, null]}', "null", "12345678901234567890123", None], pa.string(), k.JSON),
        ([dt.time(0, 0), dt.time(23, 59, 59, 999999), None], pa.time64("us"), k.TIME),
        ([[1, None, 3], [], None], pa.list_(pa.int64()), k.ARRAY),
    ],
)
def test_column_text_is_the_per_record_text(values: list[Any], arrow_type: pa.DataType, kind: str) -> None:
    column = pa.array(values, arrow_type)
    if kind == k.FLOAT32:  # the driver reads the database's text of the real value
        expected = _expected([float(str(v)) if v is not None else None for v in [1.1, 3.4e38, None]], kind)
    elif kind == k.TIMESTAMP:  # the per-record path's values come with the zone the driver gives
        expected = _expected(values, kind)
    else:
        expected = _expected(column.to_pylist(), kind)
    assert _texts(column, kind) == expected


def test_lines_are_singer_record_messages() -> None:
    columns = {
        "id": k.ColumnKind(k.INT, ""),
        "name": k.ColumnKind(k.STRING, ""),
        "n": k.ColumnKind(k.DECIMAL, ""),
    }
    encoder = RecordLineEncoder("my stream", columns, ["id", "name"])
    batch = pa.record_batch({"id": [1, 2], "name": ['a"b', None], "n": ["1.0", "2.0"]})
    extracted = dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    lines = bytes(encoder.encode(batch, 7, extracted)).decode().split("\n")
    assert lines[-1] == ""
    assert [json.loads(line) for line in lines[:-1]] == [
        {
            "type": "RECORD",
            "stream": "my stream",
            "record": {"id": 1, "name": 'a"b'},
            "version": 7,
            "time_extracted": "2026-01-02T03:04:05.000006+00:00",
        },
        {
            "type": "RECORD",
            "stream": "my stream",
            "record": {"id": 2, "name": None},
            "version": 7,
            "time_extracted": "2026-01-02T03:04:05.000006+00:00",
        },
    ]
    assert lines[0].startswith('{"type":"RECORD","stream":"my stream","record":{"id":1,')
    assert bytes(encoder.encode(batch.slice(0, 0), None, extracted)) == b""
    assert bytes(encoder.encode(batch.slice(1, 1), None, extracted)).endswith(
        b'"record":{"id":2,"name":null},"time_extracted":"2026-01-02T03:04:05.000006+00:00"}\n'
    )
