"""The value contract over every (value, type, path) case: a value lands exactly, or its record
is rejected with a reason naming the field, the same way for RECORD lines (Arrow's JSON
reader), decoded records and BATCH tables (docs/ICEBERG_TARGET.md, "Value contract")."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pytest

from dativo_singer.conversion import RecordConverter
from dativo_singer.text_values import converter_for

DECIMAL = {"type": ["number", "null"], "multipleOf": 0.01, "maximum": 9999999999.99}
DOUBLE = {"type": ["number", "null"]}
INTEGER = {"type": ["integer", "null"]}
DATE = {"type": ["string", "null"], "format": "date"}
TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
TIME = {"type": ["string", "null"], "format": "time"}
TEXT = {"type": ["string", "null"]}
UTC = dt.timezone.utc
REJECT = object()

# (JSON text of the value, property, what lands: a value, or REJECT)
CASES: list[tuple[str, dict[str, Any], Any]] = [
    ("1.005", DECIMAL, REJECT),
    ("1.999", DECIMAL, REJECT),
    ("0.0049", DECIMAL, REJECT),
    ("12345678901.5", DECIMAL, REJECT),
    ('"NaN"', DECIMAL, REJECT),
    ('"Infinity"', DECIMAL, REJECT),
    ("1.5", DECIMAL, Decimal("1.50")),
    ("1.5000", DECIMAL, Decimal("1.50")),
    ("-9999999999.99", DECIMAL, Decimal("-9999999999.99")),
    ("7", DECIMAL, Decimal("7.00")),
    ('"NaN"', DOUBLE, math.nan),
    ('"Infinity"', DOUBLE, math.inf),
    ('"-Infinity"', DOUBLE, -math.inf),
    ("1e300", DOUBLE, 1e300),
    ('"1.5"', DOUBLE, REJECT),
    ("2.7", INTEGER, REJECT),
    ("-2.7", INTEGER, REJECT),
    ("2.0", INTEGER, 2),
    ("true", INTEGER, REJECT),
    ('"2024-01-01T10:00:00Z"', DATE, REJECT),
    ('"2024-01-01T00:00:00Z"', DATE, dt.date(2024, 1, 1)),
    ('"2024-01-01"', DATE, dt.date(2024, 1, 1)),
    ('"2024-01-01T10:00:00.123456789Z"', TIMESTAMP, REJECT),
    ('"2024-01-01T10:00:00.1234567+02:00"', TIMESTAMP, REJECT),
    ('"2024-01-01T10:00:00.123456000Z"', TIMESTAMP, dt.datetime(2024, 1, 1, 10, 0, 0, 123456, UTC)),
    ('"2024-01-01t10:00:00z"', TIMESTAMP, dt.datetime(2024, 1, 1, 10, tzinfo=UTC)),
    ('"2024-01-01 10:00:00"', TIMESTAMP, dt.datetime(2024, 1, 1, 10, tzinfo=UTC)),
    # A time holds one day: MySQL TIME beyond it is declared a string by tap-mysql (DATABASES.md)
    ('"25:00:00"', TIME, REJECT),
    ('"-01:30:00"', TIME, REJECT),
    ('"12:34:56.789"', TIME, dt.time(12, 34, 56, 789000)),
    ('"838:59:59"', TEXT, "838:59:59"),
]
PATHS = ["lines", "records", "batch table"]


def _converter(prop: dict[str, Any]) -> RecordConverter:
    schema = {"type": "object", "properties": {"id": {"type": "integer"}, "v": prop}}
    return RecordConverter(schema, ["id"])


def _convert(path: str, text: str, prop: dict[str, Any]) -> tuple[list[Any], list[str]]:
    converter = _converter(prop)
    good = b'{"type":"RECORD","stream":"s","record":{"id":1,"v":null}}'
    line = b'{"type":"RECORD","stream":"s","record":{"id":2,"v":' + text.encode() + b"}}"
    if path == "lines":
        table, rejected = converter.convert_lines([good, line])
    else:
        records = [{"id": 1, "v": None}, {"id": 2, "v": orjson.loads(text)}]
        if path == "records":
            table, rejected = converter.convert(records)
        else:
            table, rejected = converter.convert_table(pa.Table.from_pylist(records))
    assert all(r.record["id"] == 2 for r in rejected)
    return table.column("v").to_pylist(), [r.reason for r in rejected]


def _same(landed: Any, expected: Any) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(landed, float) and math.isnan(landed)
    return bool(landed == expected) and type(landed) is type(expected)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("text", "prop", "expected"),
    CASES,
    ids=[f"{c[0]}-{c[1].get('format') or c[1].get('multipleOf') or c[1]['type'][0]}" for c in CASES],
)
def test_a_value_lands_exactly_or_is_rejected(
    path: str, text: str, prop: dict[str, Any], expected: Any
) -> None:
    values, reasons = _convert(path, text, prop)
    if expected is REJECT:
        assert values == [None]
        assert len(reasons) == 1 and reasons[0].startswith("field 'v': "), reasons
    else:
        assert reasons == []
        assert values[0] is None and _same(values[1], expected), values


@pytest.mark.parametrize(
    ("prop", "text", "sent"),
    [
        (DOUBLE, "NaN", "NaN"),
        (DOUBLE, "inf", "Infinity"),
        (DOUBLE, "-Infinity", "-Infinity"),
        (DOUBLE, "2.5", 2.5),
        (DECIMAL, "1.005", Decimal("1.005")),  # sent as its digits: the target judges the scale
        (TIMESTAMP, "2024-01-01T10:00:00.5Z", "2024-01-01T10:00:00.500000+00:00"),
    ],
)
def test_text_cells_are_sent_as_json_can_carry_them(prop: dict[str, Any], text: str, sent: Any) -> None:
    assert converter_for(prop)(text) == sent


@pytest.mark.parametrize(
    ("prop", "text"),
    [(DECIMAL, "NaN"), (DECIMAL, "-inf"), (INTEGER, "2.7"), (TIMESTAMP, "2024-01-01T10:00:00.123456789Z")],
)
def test_text_cells_that_cannot_land_exactly_are_refused(prop: dict[str, Any], text: str) -> None:
    with pytest.raises(ValueError):
        converter_for(prop)(text)
