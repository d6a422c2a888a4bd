"""dativo_singer conversion: Singer JSON Schema → Arrow types, and records → Arrow with reasons.

Records, raw RECORD lines and Arrow tables are three ways in; they must give the same rows and
the same rejected records with the same reasons."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from dativo_singer.arrow_types import arrow_schema, arrow_type, property_types
from dativo_singer.conversion import RecordConverter, cast_or_reject

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "amount": {"type": ["number", "null"], "multipleOf": 0.01, "maximum": 999.99},
        "ratio": {"type": ["number", "null"]},
        "paid": {"type": ["boolean", "null"]},
        "day": {"type": ["string", "null"], "format": "date"},
        "at": {"type": ["string", "null"], "format": "date-time"},
    },
}


@pytest.mark.parametrize(
    "prop,expected",
    [
        ({"type": "integer"}, pa.int64()),
        ({"type": ["number", "null"]}, pa.float64()),
        ({"type": "number", "multipleOf": 0.01, "maximum": 999.99}, pa.decimal128(5, 2)),
        ({"type": "number", "multipleOf": 0.001}, pa.decimal128(38, 3)),
        ({"type": "boolean"}, pa.bool_()),
        ({"type": "string", "format": "date-time"}, pa.timestamp("us", tz="UTC")),
        ({"type": "string", "format": "date"}, pa.date32()),
        ({"type": "string", "format": "time"}, pa.time64("us")),
        ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, pa.int64()),
        ({"type": "object", "properties": {"a": {"type": "integer"}}}, pa.string()),
        ({}, pa.string()),
    ],
)
def test_json_schema_to_arrow_types(prop: dict[str, Any], expected: pa.DataType) -> None:
    assert arrow_type(prop) == expected


def test_nested_as_struct_and_required_fields() -> None:
    prop = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "string"}}},
    }
    assert arrow_type(prop, "struct") == pa.struct([("a", pa.int64()), ("b", pa.list_(pa.string()))])
    schema = arrow_schema(
        {"properties": {"id": {"type": "integer"}, "x": {"type": "string"}}, "required": ["x"]}, ["id"]
    )
    assert [f.nullable for f in schema] == [False, False]


def test_property_types_flattens_any_of_and_has_no_default() -> None:
    assert property_types({"anyOf": [{"type": ["string", "null"]}, {"type": "integer"}]}) == [
        "string",
        "null",
        "integer",
    ]
    assert property_types({}) == []


ROWS: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "a",
        "amount": 1.5,
        "ratio": 0.5,
        "paid": True,
        "day": "2024-01-02",
        "at": "2024-01-02T03:04:05Z",
    },
    {
        "id": 2,
        "name": None,
        "amount": "lots",
        "ratio": 1,
        "paid": False,
        "day": None,
        "at": "2024-01-02T03:04:05",
    },
    {"id": 3, "amount": 12345.67, "day": "2024-02-30"},
    {"id": None, "name": "no key"},
    {"id": 5, "name": "e", "amount": 2, "at": "not a time"},
    {"id": 6, "name": "f", "day": "2024-03-04", "at": "2024-03-04T00:00:00+02:00"},
]

EXPECTED_REASONS = {
    2: "field 'amount': 'lots' is not a valid decimal128(5, 2)",
    3: "field 'amount': Decimal('12345.67') is not a valid decimal128(5, 2)",
    4: "required field 'id' is missing or null",
    5: "field 'at': 'not a time' is not a valid timestamp[us, tz=UTC]",
}


def _lines(rows: list[dict[str, Any]]) -> list[bytes]:
    return [
        json.dumps({"type": "RECORD", "stream": "s", "record": r}, separators=(",", ":")).encode()
        for r in rows
    ]


def _converter() -> RecordConverter:
    return RecordConverter(SCHEMA, ["id"])


def _reasons(rejected: list[Any]) -> dict[Any, str]:
    return {r.record.get("id") or 4: r.reason for r in rejected}


def test_records_are_converted_and_bad_ones_rejected_with_reasons() -> None:
    data, rejected = _converter().convert([dict(r) for r in ROWS])

    assert data.column("id").to_pylist() == [1, 6]
    first = data.to_pylist()[0]
    assert first["amount"] == Decimal("1.50")
    assert first["day"] == dt.date(2024, 1, 2)
    assert first["at"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert data.to_pylist()[1]["at"] == dt.datetime(2024, 3, 3, 22, 0, tzinfo=dt.timezone.utc)
    reasons = _reasons(rejected)
    assert {k: v for k, v in reasons.items() if k != 3} == {
        k: v for k, v in EXPECTED_REASONS.items() if k != 3
    }
    assert reasons[3].startswith("field 'amount': ") or reasons[3].startswith("field 'day': ")


def test_lines_records_and_arrow_tables_give_the_same_rows_and_reasons() -> None:
    good = [r for r in ROWS if r["id"] in (1, 6)]
    from_records = _converter().convert([dict(r) for r in ROWS])
    from_lines = _converter().convert_lines(_lines(ROWS))
    assert from_lines[0].equals(from_records[0])
    assert [(r.record, r.reason) for r in from_lines[1]] == [(r.record, r.reason) for r in from_records[1]]

    # An Arrow table (a BATCH file) of clean rows takes the vectorized path; same values.
    table = pa.Table.from_pylist(
        [{**r, "amount": str(r.get("amount")) if r.get("amount") is not None else None} for r in good]
    )
    from_table = _converter().convert_table(table)
    assert from_table[1] == []
    assert from_table[0].to_pylist() == _converter().convert([dict(r) for r in good])[0].to_pylist()

    # A table with bad values falls back to the record path: same rejects as records.
    bad = pa.Table.from_pylist([{"id": 1, "amount": "lots"}, {"id": 2, "amount": "3.25"}])
    data, rejected = _converter().convert_table(bad)
    assert data.column("id").to_pylist() == [2]
    assert [r.reason for r in rejected] == ["field 'amount': 'lots' is not a valid decimal128(5, 2)"]


def test_clean_lines_take_the_bulk_path_and_match_records() -> None:
    rows = [
        {"id": i, "name": f"n{i}", "amount": i / 4, "day": "2024-01-01", "at": "2024-01-01T00:00:00Z"}
        for i in range(50)
    ]
    lines_data, lines_rejected = _converter().convert_lines(_lines(rows))
    records_data, records_rejected = _converter().convert([dict(r) for r in rows])
    assert lines_rejected == records_rejected == []
    assert lines_data.equals(records_data)
    assert _converter().parses_lines


def test_strict_mode_rejects_unknown_fields_and_metadata_is_dropped() -> None:
    converter = RecordConverter(SCHEMA, ["id"], strict=True)
    data, rejected = converter.convert([{"id": 1, "extra": 1}, {"id": 2, "_sdc_extracted_at": "x"}])
    assert data.column("id").to_pylist() == [2]
    assert [r.reason for r in rejected] == ["field(s) not in the schema: extra"]
    assert "_sdc_extracted_at" not in data.column_names


def test_objects_become_json_text() -> None:
    schema = {"properties": {"id": {"type": "integer"}, "meta": {"type": ["object", "null"]}}}
    converter = RecordConverter(schema, ["id"])
    assert not converter.parses_lines
    data, _ = converter.convert_lines(_lines([{"id": 1, "meta": {"a": [1, 2]}}]))
    assert json.loads(data.column("meta")[0].as_py()) == {"a": [1, 2]}


def test_cast_or_reject_keeps_what_fits_and_explains_the_rest() -> None:
    reasons: dict[int, str] = {}
    column = pa.chunked_array([pa.array([Decimal("1.25"), Decimal("12345.67"), None])])
    cast = cast_or_reject(
        column, pa.field("amount", pa.decimal128(5, 2)), reasons, "does not fit the table's"
    )
    assert cast.to_pylist() == [Decimal("1.25"), None, None]
    assert reasons == {1: "field 'amount': Decimal('12345.67') does not fit the table's decimal128(5, 2)"}
    strings = pa.chunked_array([pa.array(["12", "x"])])
    assert cast_or_reject(strings, pa.field("n", pa.int64()), reasons).to_pylist() == [12, None]
    assert reasons[1].startswith("field 'amount'")  # the first reason of a row is kept


def test_arrow_to_json_schema_round_trips() -> None:
    from dativo_singer.arrow_types import json_schema

    arrow = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("amount", pa.decimal128(5, 2)),
            pa.field("whole", pa.decimal128(10, 0)),
            pa.field("ratio", pa.float64()),
            pa.field("ok", pa.bool_()),
            pa.field("at", pa.timestamp("us", tz="UTC")),
            pa.field("day", pa.date32()),
            pa.field("clock", pa.time64("us")),
            pa.field("name", pa.string()),
            pa.field("tags", pa.list_(pa.string())),
            pa.field("point", pa.struct([("x", pa.int64()), ("y", pa.string())])),
        ]
    )
    schema = json_schema(arrow)
    assert schema["required"] == ["id"]
    assert arrow_schema(schema, ["id"], "struct") == arrow
