"""RECORD lines as Arrow arrays: the record objects cut out of their envelopes are the records
the lines carry, whatever the envelope looks like; lines that do not share a compact envelope
are left to the whole-line parse."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from dativo_singer.conversion import RecordConverter
from dativo_singer.record_text import LINES, LineBlock, joined, record_objects, split_lines


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _line(record: Any, tail: str = ',"version":7,"time_extracted":"2026-01-01T00:00:00+00:00"}') -> bytes:
    return ('{"type":"RECORD","stream":"s","record":' + _compact(record) + tail).encode()


def _records(objects: pa.Array) -> list[Any]:
    return [json.loads(text) for text in objects.to_pylist()]


def test_records_are_cut_out_of_runs_of_envelopes() -> None:
    rows = [{"id": i, "meta": {"version": 1, "time_extracted": "x"}} for i in range(6)]
    tails = [',"time_extracted":"a"}'] * 2 + [',"version":3,"time_extracted":"b"}'] * 3 + ["}"]
    lines = pa.array([_line(row, tail) for row, tail in zip(rows, tails, strict=True)], LINES)
    assert record_objects(lines) is None  # the last line's envelope has no time_extracted
    objects = record_objects(lines.slice(0, 5))
    assert objects is not None and _records(objects) == rows[:5]


def test_lines_without_a_shared_compact_envelope_are_left_whole() -> None:
    spaced = b'{"type": "RECORD", "stream": "s", "record": {"id": 1}}'
    assert record_objects(pa.array([spaced], LINES)) is None
    each_its_own = [_line({"id": i}, f',"time_extracted":"t{i}"}}') for i in range(9)]
    assert record_objects(pa.array(each_its_own, LINES)) is None  # more runs than worth cutting
    assert record_objects(pa.array(each_its_own[:8], LINES)) is not None


def test_a_record_holding_envelope_text_converts_as_the_record_path_does() -> None:
    schema = {"properties": {"id": {"type": "integer"}, "note": {"type": ["string", "null"]}}}
    notes = ['},"time_extracted":"x"}', '"}', '\\",\\"version\\":1', "}\n{"]
    rows = [{"id": i, "note": note} for i, note in enumerate(notes)]
    lines = [_line(row) for row in rows]
    converter = RecordConverter(schema, ["id"])
    assert converter.convert_lines(LineBlock(pa.array(lines, LINES)))[0].to_pylist() == rows
    assert converter.convert(rows)[0].to_pylist() == rows


def test_split_and_join_keep_every_byte() -> None:
    lines = split_lines(b'{"a":1}\n\n{"b":"\\n"}')
    assert lines.to_pylist() == [b'{"a":1}', b"", b'{"b":"\\n"}']
    assert joined(lines).to_pybytes() == b'{"a":1}\n\n{"b":"\\n"}\n'
    assert list(LineBlock(lines)) == lines.to_pylist() and LineBlock(lines)[2] == b'{"b":"\\n"}'


_TEXT = st.text(alphabet=st.sampled_from(['"', "\\", "}", "{", ",", ":", "a", "\n", "é", "\x01"]), max_size=8)
_VALUES = st.recursive(
    st.none() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
_TAILS = st.sampled_from(
    ["}", ',"time_extracted":"t"}', ',"version":1,"time_extracted":"t"}', ',"time_extracted":"t","version":1}']
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.dictionaries(_TEXT, _VALUES, max_size=4), _TAILS), min_size=1, max_size=6))
def test_cut_records_are_the_records_the_lines_carry(rows: list[tuple[dict[str, Any], str]]) -> None:
    """A text cut out is the line's record, or (an envelope with more fields than the shared
    tail) no single JSON document, which Arrow's JSON reader refuses: never another record."""
    lines = pa.array([_line(record, tail) for record, tail in rows], LINES)
    objects = record_objects(lines)
    if objects is None:
        return
    for text, (record, _) in zip(objects.to_pylist(), rows, strict=True):
        try:
            assert json.loads(text) == record
        except json.JSONDecodeError as exc:
            assert exc.msg == "Extra data"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.dictionaries(_TEXT, _VALUES, max_size=4), _TAILS), min_size=1, max_size=6))
def test_lines_convert_as_records_do(rows: list[tuple[dict[str, Any], str]]) -> None:
    converter = RecordConverter({"properties": {}}, [])
    lines = [_line(record, tail) for record, tail in rows]
    records = [record for record, _ in rows]
    assert converter.convert_lines(LineBlock(pa.array(lines, LINES)))[0].equals(converter.convert(records)[0])
