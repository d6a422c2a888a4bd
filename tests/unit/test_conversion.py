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

from dativo_singer.arrow_types import (
    JSON_TEXT,
    NESTED_TEXT,
    arrow_schema,
    arrow_type,
    decimal_string_pattern,
    json_text_kind,
    property_types,
)
from dativo_singer.conversion import RecordConverter, Rejected, cast_or_reject
from dativo_singer.dead_letter import write_dead_letters
from dativo_singer.exact_json import loads_exact

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
        # decimals sent as strings: our taps' pattern, singer-sdk's precision/scale, neither
        (
            {
                "type": ["string", "null"],
                "format": "x-singer.decimal",
                "pattern": decimal_string_pattern(38, 10),
            },
            pa.decimal128(38, 10),
        ),
        (
            {"type": "string", "format": "x-singer.decimal", "pattern": decimal_string_pattern(30, 0)},
            pa.decimal128(30, 0),
        ),
        ({"type": "string", "format": "x-singer.decimal", "precision": 29, "scale": 3}, pa.decimal128(29, 3)),
        ({"type": "string", "format": "singer.decimal"}, pa.string()),
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


@pytest.mark.parametrize(
    "text", ["2024-01-02t03:04:05z", "2024-01-02T03:04:05z", "2024-01-02t05:04:05+02:00"]
)
def test_lowercase_t_and_z_timestamps_are_valid_rfc_3339(text: str) -> None:
    """RFC 3339 allows a lowercase ``t`` and ``z``: the same instant on both ways in."""
    rows = [{"id": 1, "at": text}]
    for data, rejected in (
        _converter().convert([dict(r) for r in rows]),
        _converter().convert_lines(_lines(rows)),
    ):
        assert rejected == []
        assert data.column("at").to_pylist() == [dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)]


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


# --- Values the target must not lose or alter: each case on every way in -------------------


def _both_paths(
    converter: RecordConverter, rows: list[dict[str, Any]]
) -> tuple[tuple[pa.Table, list[Any]], tuple[pa.Table, list[Any]]]:
    """(records path, raw lines path) results, after checking they agree on rows and reasons."""
    lines = _lines(rows)
    from_records = converter.convert([dict(r) for r in rows])
    from_lines = converter.convert_lines(lines)
    assert from_lines[0].to_pylist() == from_records[0].to_pylist()
    assert [(r.record, r.reason) for r in from_lines[1]] == [(r.record, r.reason) for r in from_records[1]]
    assert [r.raw for r in from_records[1]] == [None] * len(from_records[1])
    by_id = {json.loads(line)["record"].get("id"): line for line in lines}
    assert [r.raw for r in from_lines[1]] == [by_id[r.record.get("id")] for r in from_lines[1]]
    return from_records, from_lines


@pytest.mark.parametrize(
    "prop,expected",
    [
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, pa.string()),
        ({"anyOf": [{"type": "integer"}, {"type": "number"}, {"type": "null"}]}, pa.float64()),
        ({"anyOf": [{"type": "integer"}, {"type": ["integer", "null"]}]}, pa.int64()),
        (
            {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            pa.timestamp("us", tz="UTC"),
        ),
        (
            {"anyOf": [{"type": "number", "multipleOf": 0.01, "maximum": 9.99}, {"type": "null"}]},
            pa.decimal128(3, 2),
        ),
        ({"anyOf": [{"type": "string", "format": "date"}, {"type": "string"}]}, pa.string()),
        ({"anyOf": [{"type": "integer"}, {}]}, pa.string()),
        ({"type": "integer", "maximum": 2**64 - 1}, pa.decimal128(38, 0)),
        ({"type": ["integer", "null"], "minimum": -(2**70)}, pa.decimal128(38, 0)),
        ({"anyOf": [{"type": "integer", "maximum": 2**64}, {"type": "null"}]}, pa.decimal128(38, 0)),
        ({"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}, pa.int64()),
        # numeric(16,2) and numeric(15,0) as tap-postgres declares them (maxima of 15-16 digits)
        ({"type": "number", "multipleOf": 0.01, "maximum": 99999999999999.99}, pa.decimal128(16, 2)),
        ({"type": "number", "multipleOf": 1, "maximum": 999999999999999}, pa.decimal128(15, 0)),
    ],
)
def test_any_of_and_integer_bounds_to_arrow_types(prop: dict[str, Any], expected: pa.DataType) -> None:
    assert arrow_type(prop) == expected


@pytest.mark.parametrize(
    "prop,kind",
    [
        ({"type": ["string", "null"]}, None),
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, JSON_TEXT),
        ({"type": ["string", "number", "integer", "array", "object", "boolean"]}, JSON_TEXT),
        ({}, JSON_TEXT),
        ({"type": ["object", "null"]}, NESTED_TEXT),
        ({"type": "array", "items": {"type": "integer"}}, NESTED_TEXT),
        ({"anyOf": [{"type": "object"}, {"type": "array"}]}, NESTED_TEXT),
    ],
)
def test_json_text_kinds(prop: dict[str, Any], kind: str | None) -> None:
    assert json_text_kind(prop, arrow_type(prop)) == kind


MIXED_SCHEMA: dict[str, Any] = {
    "properties": {
        "id": {"type": "integer"},
        "mixed": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
        "untyped": {},
        "doc": {"type": ["object", "null"]},
    }
}


def test_mixed_and_untyped_columns_store_every_value_as_json_text() -> None:
    values: list[Any] = ["abc", 5, "5", 2.5, {"a": [1, "x"]}, [1], True, None, "", 2**64]
    rows = [{"id": i, "mixed": v, "untyped": v, "doc": None} for i, v in enumerate(values)]
    (data, rejected), _ = _both_paths(RecordConverter(MIXED_SCHEMA, ["id"]), rows)
    assert rejected == []
    texts = ['"abc"', "5", '"5"', "2.5", '{"a":[1,"x"]}', "[1]", "true", None, '""', "18446744073709551616"]
    assert data.column("mixed").to_pylist() == texts
    assert data.column("untyped").to_pylist() == texts
    assert [None if t is None else json.loads(t) for t in texts] == values


def test_object_columns_encode_objects_and_keep_strings_as_json_text() -> None:
    """A string in an object column is taken as JSON text a tap already made: kept as it is."""
    rows = [
        {"id": 1, "doc": {"a": 1}},
        {"id": 2, "doc": '{"x": [1, 2]}'},
        {"id": 3, "doc": [1, {"b": None}]},
        {"id": 4, "doc": None},
        {"id": 5, "doc": 7},
    ]
    (data, rejected), _ = _both_paths(RecordConverter(MIXED_SCHEMA, ["id"]), rows)
    assert rejected == []
    assert data.column("doc").to_pylist() == ['{"a":1}', '{"x": [1, 2]}', '[1,{"b":null}]', None, "7"]


def test_records_are_not_altered_by_conversion() -> None:
    """Dead letters hold the record as sent, not its JSON-text conversion."""
    record = {"id": None, "mixed": 5, "doc": {"x": 1}}
    _, rejected = RecordConverter(MIXED_SCHEMA, ["id"]).convert([record])
    assert record == {"id": None, "mixed": 5, "doc": {"x": 1}}
    assert rejected[0].record == record


BIG_SCHEMA: dict[str, Any] = {
    "properties": {
        "id": {"type": "integer"},
        "huge": {"type": ["integer", "null"], "minimum": -(2**127), "maximum": 2**127},
        "plain": {"type": ["integer", "null"]},
    }
}


def test_integers_beyond_int64_are_decimals_or_rejected_exactly() -> None:
    rows = [
        {"id": 1, "huge": 2**64 - 1, "plain": 2**63 - 1},
        {"id": 2, "huge": -(2**70), "plain": -(2**63)},
        {"id": 3, "huge": None, "plain": 2**64},
        {"id": 4, "huge": 10**40, "plain": 1},
        {"id": 5, "huge": 1.5, "plain": 1},
    ]
    (data, rejected), _ = _both_paths(RecordConverter(BIG_SCHEMA, ["id"]), rows)
    assert data.column("huge").type == pa.decimal128(38, 0)
    assert data.to_pylist() == [
        {"id": 1, "huge": Decimal(2**64 - 1), "plain": 2**63 - 1},
        {"id": 2, "huge": Decimal(-(2**70)), "plain": -(2**63)},
    ]
    assert [(r.record, r.reason) for r in rejected] == [
        (rows[2], "field 'plain': 18446744073709551616 is not a valid int64"),
        (rows[3], f"field 'huge': {10**40} is not a valid decimal128(38, 0)"),
        (rows[4], "field 'huge': 1.5 is not a valid decimal128(38, 0)"),
    ]
    assert type(rejected[0].record["plain"]) is int


def test_long_decimals_are_exact_on_lines_and_exactly_decoded_records() -> None:
    schema = {
        "properties": {
            "id": {"type": "integer"},
            "amount": {"type": ["number", "null"], "multipleOf": 0.000001, "maximum": 99999999999999.999999},
        }
    }
    converter = RecordConverter(schema, ["id"])
    # the maximum arrives as the double 1e14: one digit of headroom
    assert converter.schema.field("amount").type == pa.decimal128(21, 6)
    lines = [b'{"type":"RECORD","stream":"s","record":{"id":1,"amount":12345678901234.123456}}']
    records = [loads_exact(line)["record"] for line in lines]
    assert records == [{"id": 1, "amount": Decimal("12345678901234.123456")}]
    expected = [{"id": 1, "amount": Decimal("12345678901234.123456")}]
    assert converter.convert_lines(lines)[0].to_pylist() == expected
    assert converter.convert(records)[0].to_pylist() == expected
    # Arrow's JSON reader takes digits beyond the precision: the line path must still reject them.
    over = [b'{"type":"RECORD","stream":"s","record":{"id":2,"amount":1234567890123456.5}}']
    assert converter._parse_lines(over) is None
    reasons = [r.reason for r in converter.convert_lines(over)[1]]
    assert reasons == [r.reason for r in converter.convert([loads_exact(over[0])["record"]])[1]]
    assert reasons == ["field 'amount': Decimal('1234567890123456.5') is not a valid decimal128(21, 6)"]


def test_exact_decoding_keeps_floats_in_double_columns() -> None:
    converter = _converter()
    line = b'{"type":"RECORD","stream":"s","record":{"id":1,"ratio":0.1234567890123456789,"amount":1.5}}'
    data, rejected = converter.convert([loads_exact(line)["record"]])
    assert rejected == []
    assert data.to_pylist()[0]["ratio"] == 0.1234567890123456789
    assert data.equals(converter.convert_lines([line])[0])


def test_batch_tables_with_big_integers_keep_them_exact() -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "huge": pa.array([2**64 - 1, 5], pa.uint64()),
            "plain": pa.array([2**64 - 1, 5], pa.uint64()),
        }
    )
    data, rejected = RecordConverter(BIG_SCHEMA, ["id"]).convert_table(table)
    assert data.to_pylist() == [{"id": 2, "huge": Decimal(5), "plain": 5}]
    assert [(r.record, r.reason, r.raw) for r in rejected] == [
        (
            {"id": 1, "huge": 2**64 - 1, "plain": 2**64 - 1},
            "field 'plain': 18446744073709551615 is not a valid int64",
            None,
        )
    ]


def test_dead_letters_keep_numbers_exact_and_the_raw_line(tmp_path: Any) -> None:
    line = b'{"type":"RECORD","stream":"s","record":{"id":1,"plain":18446744073709551616,"x":1.10}}'
    record = {"id": 1, "plain": 2**64, "amount": Decimal("12345678901234.123456"), "n": {"deep": [-(2**70)]}}
    path = write_dead_letters(
        str(tmp_path), "s", [Rejected(record, "why", line), Rejected({"id": 2}, "no line")]
    )
    first, second = path.read_text().splitlines()
    assert '"plain":18446744073709551616' in first
    assert '"amount":12345678901234.123456' in first
    assert '"deep":[-1180591620717411303424]' in first
    entry = json.loads(first, parse_float=Decimal)
    assert entry["record"] == record
    assert entry["raw"].encode() == line
    assert "raw" not in json.loads(second)


def test_strict_mode_keeps_the_bulk_path_with_sdc_fields() -> None:
    schema = {
        **SCHEMA,
        "properties": {
            **SCHEMA["properties"],
            "_sdc_source_file": {"type": ["string", "null"]},
            "_sdc_source_lineno": {"type": ["integer", "null"]},
        },
    }
    converter = RecordConverter(schema, ["id"], strict=True)
    rows = [
        {
            "id": i,
            "name": "n",
            "_sdc_source_file": "a.csv",
            "_sdc_source_lineno": i + 1,
            "_sdc_source_version": "v",
        }
        for i in range(5)
    ]
    assert converter._parse_lines(_lines(rows)) is not None  # the bulk path, not record by record
    (data, rejected), _ = _both_paths(converter, rows)
    assert rejected == [] and data.column("id").to_pylist() == list(range(5))
    assert not [n for n in data.column_names if n.startswith("_sdc_")]
    # A field outside the schema is still a violation, found the same way on both paths.
    bad = [*rows, {"id": 9, "surprise": 1, "_sdc_source_lineno": 3}]
    assert converter._parse_lines(_lines(bad)) is None
    (data, rejected), _ = _both_paths(converter, bad)
    assert [r.reason for r in rejected] == ["field(s) not in the schema: surprise"]


def test_null_arrays_and_structs_stay_null_in_struct_mode() -> None:
    schema = {
        "properties": {
            "id": {"type": "integer"},
            "tags": {
                "type": ["array", "null"],
                "items": {"type": "object", "properties": {"a": {"type": "integer"}}},
            },
            "address": {"type": ["object", "null"], "properties": {"city": {"type": ["string", "null"]}}},
        }
    }
    rows = [
        {"id": 1, "tags": None, "address": None},
        {"id": 2, "tags": [], "address": {"city": None}},
        {"id": 3, "tags": [{"a": 1}], "address": {"city": "Oslo"}},
    ]
    converter = RecordConverter(schema, ["id"], nested="struct")
    (data, _), _ = _both_paths(converter, rows)
    assert data.to_pylist() == rows


def test_the_reader_decodes_long_numbers_of_records_exactly() -> None:
    from dativo_singer.reader import FastSingerReader

    reader = FastSingerReader()
    line = b'{"type": "RECORD", "stream": "s", "record": {"big": 18446744073709551616, "d": 1.000000000000000001}}'
    assert reader.deserialize_json(line)["record"] == {"big": 2**64, "d": Decimal("1.000000000000000001")}
    state = b'{"type": "STATE", "value": {"n": 1.5}}'
    assert reader.deserialize_json(state) == {"type": "STATE", "value": {"n": 1.5}}
