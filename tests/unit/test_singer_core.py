"""dativo_singer pieces without servers: the fast reader, column policies, dead letters, the
commit report, the record buffer."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from dativo_singer.buffer import RecordBuffer
from dativo_singer.commit_report import CommitReport, format_commit_report, parse_commit_report
from dativo_singer.conversion import RecordConverter, Rejected
from dativo_singer.dead_letter import write_dead_letters
from dativo_singer.errors import FatalError
from dativo_singer.policy import MASK, apply_policies, check_policies
from dativo_singer.reader import FastSingerReader


def _read(text: str) -> list[tuple[str, Any]]:
    """What the reader dispatches, in order: ("lines", [record ids]) for bulk RECORD lines,
    (type, message) for messages decoded one by one."""
    seen: list[tuple[str, Any]] = []
    reader = FastSingerReader()
    reader.record_lines_callback = lambda stream, lines, nbytes: seen.append(
        (
            "lines",
            (stream, [json.loads(line)["record"]["id"] for line in lines], nbytes == sum(map(len, lines))),
        )
    )
    callbacks = {kind: (lambda m, k=kind: seen.append((k, m))) for kind in ("SCHEMA", "RECORD", "STATE")}
    reader.process_lines(io.BytesIO(text.encode()), callbacks)
    return seen


def _record(stream: str, i: int, compact: bool = True) -> str:
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps({"type": "RECORD", "stream": stream, "record": {"id": i}}, separators=separators)


def test_reader_keeps_the_order_of_records_and_other_messages() -> None:
    text = "\n".join(
        [
            '{"type":"SCHEMA","stream":"a","schema":{},"key_properties":[]}',
            _record("a", 1),
            _record("a", 2),
            _record("a", 3),
            '{"type":"STATE","value":{"n":3}}',
            _record("a", 4),
            _record("b", 5),
            _record("b", 6),
            "",
            '{"type":"STATE","value":{"n":6}}',
        ]
    )
    seen = _read(text)
    # The first RECORD of a stream is decoded alone (it teaches the reader the stream's prefix),
    # the ones after it come in bulk, always before the next other message.
    assert [
        (kind, value["record"]["id"] if kind == "RECORD" else value)
        for kind, value in seen
        if kind != "SCHEMA"
    ] == [
        ("RECORD", 1),
        ("lines", ("a", [2, 3], True)),
        ("STATE", {"type": "STATE", "value": {"n": 3}}),
        ("lines", ("a", [4], True)),
        ("RECORD", 5),
        ("lines", ("b", [6], True)),
        ("STATE", {"type": "STATE", "value": {"n": 6}}),
    ]


def test_spaced_record_lines_are_decoded_one_by_one_in_order() -> None:
    text = "\n".join(
        [
            _record("a", 1, compact=False),
            _record("a", 2, compact=False),
            _record("a", 3),
            _record("a", 4, False),
        ]
    )
    seen = _read(text)
    order = [value["record"]["id"] if kind == "RECORD" else value[1] for kind, value in seen]
    assert order == [1, 2, [3], 4]


def test_reader_rejects_a_line_that_is_not_a_message() -> None:
    from singer_sdk.singerlib.exceptions import InvalidInputLine

    with pytest.raises(InvalidInputLine):
        _read('{"type":"STATE","value":{}}\nnot json\n')


def test_policies_hash_mask_drop_and_allow() -> None:
    data = pa.table(
        {"id": [1, 2], "email": ["a@x", None], "card": ["4111", None], "ssn": ["1", "2"], "ok": ["x", "y"]}
    )
    out = apply_policies(
        data, {"email": "hash", "card": "mask", "ssn": "drop", "ok": "allow", "gone": "drop"}, "salt"
    )
    assert out.column_names == ["id", "email", "card", "ok"]
    assert out.column("email").to_pylist()[1] is None and len(out.column("email")[0].as_py()) == 64
    assert out.column("card").to_pylist() == [MASK, None]
    with pytest.raises(FatalError, match="unknown action 'scramble'"):
        check_policies({"email": "scramble"})


def test_dead_letters_are_json_lines_with_reason(tmp_path: Path) -> None:
    path = write_dead_letters(
        str(tmp_path), "orders", [Rejected({"id": 1, "d": b"x"}, "why"), Rejected({"id": 2}, "because")]
    )
    assert path.parent == tmp_path / "orders"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [
        {"stream": "orders", "reason": "why", "record": {"id": 1, "d": "b'x'"}},
        {"stream": "orders", "reason": "because", "record": {"id": 2}},
    ]


def test_commit_report_round_trip_and_runner_keys() -> None:
    report = CommitReport(
        stream="orders",
        table="acme.orders",
        rows=5,
        total_rows=15,
        write_mode="merge",
        dead_letter_rows=1,
        dead_letter_path="/d/x.jsonl",
        snapshot_id=123,
        metadata_location="file:///m.json",
        seconds=0.12345,
        table_rows=120,
    )
    line = format_commit_report(report)
    assert line.startswith("dativo.commit {")
    logged = f"2026-01-01 00:00:00,000 | INFO     | target-iceberg.orders | {line}"
    parsed = parse_commit_report(logged)
    assert parsed == CommitReport(**{**report.to_dict(), "seconds": 0.123})
    assert set(json.loads(line.partition(" ")[2])) == {
        "stream",
        "table",
        "rows",
        "total_rows",
        "write_mode",
        "dead_letter_rows",
        "dead_letter_path",
        "replaced_key_rows",
        "snapshot_id",
        "metadata_location",
        "seconds",
        "table_rows",
    }
    assert parse_commit_report("INFO something else") is None
    assert parse_commit_report("dativo.commit {not json}") is None
    newer = parse_commit_report('dativo.commit {"stream": "s", "table": "t", "rows": 1, "future_key": 1}')
    assert newer is not None and newer.total_rows == 1


def test_buffer_keeps_order_across_records_lines_and_tables() -> None:
    schema = {"properties": {"id": {"type": "integer"}, "email": {"type": ["string", "null"]}}}
    buffer = RecordBuffer(RecordConverter(schema, ["id"]), {"email": "mask"})
    buffer.add({"id": 1, "email": "a"}, 10)
    buffer.add_lines([_record("s", 2).encode(), _record("s", 3).encode()], 20)
    buffer.add({"id": 4}, 5)
    buffer.add_table(pa.table({"id": [5, 6]}))
    buffer.add({"id": "seven"}, 5)
    assert (buffer.rows, buffer.since is not None) == (7, True)
    chunks, rejected, _files = buffer.take()
    assert [i for c in chunks for i in c.column("id").to_pylist()] == [1, 2, 3, 4, 5, 6]
    assert chunks[0].column("email").to_pylist() == [MASK]
    assert [r.record for r in rejected] == [{"id": "seven"}]
    assert buffer.empty and (buffer.rows, buffer.nbytes, buffer.since) == (0, 0, None)
