"""The target's message reader: RECORD lines are handed on in bulk, every other message in order,
whatever pieces the input arrives in (a pipe delivering a few bytes at a time, or one buffer)."""

from __future__ import annotations

import io
import json
import os
import threading
from typing import Any

import pytest

from dativo_singer.reader import FastSingerReader


def _compact(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def _input() -> bytes:
    lines = [_compact({"type": "SCHEMA", "stream": "a", "schema": {}, "key_properties": []})]
    lines += [_compact({"type": "RECORD", "stream": "a", "record": {"id": i}}) for i in range(2500)]
    lines += [_compact({"type": "STATE", "value": {"a": 1}}), b""]
    lines += [_compact({"type": "RECORD", "stream": "b", "record": {"id": i}}) for i in range(3)]
    lines += [b'{"type": "RECORD", "stream": "b", "record": {"id": 99}}']  # spaced: decoded alone
    lines += [_compact({"type": "RECORD", "stream": "a", "record": {"id": -1}})]
    lines += [_compact({"type": "STATE", "value": {"a": 2}})]
    return b"\n".join(lines)  # no newline after the last line


def _read(source: Any) -> tuple[list[tuple[str, Any]], dict[str, int]]:
    events: list[tuple[str, Any]] = []
    reader = FastSingerReader()
    reader.record_lines_callback = lambda stream, lines, nbytes: events.append(
        ("lines", (stream, [json.loads(x)["record"]["id"] for x in lines], nbytes))
    )
    callbacks = {
        kind: (lambda message, kind=kind: events.append((kind, message)))
        for kind in ("SCHEMA", "RECORD", "STATE")
    }
    stats = reader.process_lines(source, callbacks)
    return events, dict(stats)


def _flattened(events: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """Bulk calls merged while consecutive (their cut points depend on how input arrived)."""
    merged: list[tuple[str, Any]] = []
    for kind, payload in events:
        if kind == "lines" and merged and merged[-1][0] == "lines" and merged[-1][1][0] == payload[0]:
            stream, ids, nbytes = merged[-1][1]
            merged[-1] = ("lines", (stream, ids + payload[1], nbytes + payload[2]))
        else:
            merged.append((kind, payload))
    return merged


def _piped(data: bytes, piece: int) -> Any:
    read, write = os.pipe()

    def feed() -> None:
        with os.fdopen(write, "wb", buffering=0) as out:
            for start in range(0, len(data), piece):
                out.write(data[start : start + piece])

    threading.Thread(target=feed, daemon=True).start()
    return os.fdopen(read, "rb")


@pytest.mark.parametrize("piece", [7, 4096, None])
def test_messages_come_out_in_order_whatever_pieces_the_input_arrives_in(piece: int | None) -> None:
    data = _input()
    source = io.BytesIO(data) if piece is None else _piped(data, piece)
    events, stats = _read(source)
    flat = _flattened(events)

    kinds = ["SCHEMA", "RECORD", "lines", "STATE", "RECORD", "lines", "RECORD", "RECORD", "STATE"]
    assert [kind for kind, _ in flat] == kinds
    # The first RECORD of a stream is decoded alone; the compact ones after it go in bulk.
    assert flat[1][1]["record"] == {"id": 0}
    assert flat[2][1][:2] == ("a", list(range(1, 2500)))
    assert flat[2][1][2] == sum(len(line) for line in data.split(b"\n")[2:2501])
    assert flat[4][1]["record"] == {"id": 0} and flat[5][1][:2] == ("b", [1, 2])
    assert flat[6][1]["record"] == {"id": 99} and flat[7][1]["record"] == {"id": -1}
    assert flat[8][1]["value"] == {"a": 2}
    assert stats == {"SCHEMA": 1, "RECORD": 2500 + 4 + 1, "STATE": 2}


@pytest.mark.parametrize("piece", [1 << 16, None])
def test_a_line_longer_than_the_read_block_is_read_whole(piece: int | None) -> None:
    long_value = "x" * (9 << 20)
    lines = [_compact({"type": "SCHEMA", "stream": "a", "schema": {}, "key_properties": []})]
    lines += [_compact({"type": "RECORD", "stream": "a", "record": {"id": i, "v": "y"}}) for i in range(3)]
    lines += [_compact({"type": "RECORD", "stream": "a", "record": {"id": 3, "v": long_value}})]
    lines += [_compact({"type": "RECORD", "stream": "a", "record": {"id": 4, "v": "y"}})]
    data = b"\n".join(lines) + b"\n"
    events, stats = _read(io.BytesIO(data) if piece is None else _piped(data, piece))
    flat = _flattened(events)
    assert [kind for kind, _ in flat] == ["SCHEMA", "RECORD", "lines"]
    assert flat[2][1][:2] == ("a", [1, 2, 3, 4])
    assert flat[2][1][2] == sum(len(line) for line in lines[2:])
    assert stats == {"SCHEMA": 1, "RECORD": 5}
