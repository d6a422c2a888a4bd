"""Rows per stream counted from Singer messages at the pipe, with real programs on both sides
(a target that writes no dativo commit report) and chunks cut anywhere."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dativo_runner.pipe import PipeCallbacks, run_pipe
from dativo_runner.pipe_counts import StreamCounts
from dativo_runner.secrets import Redactor


def _messages() -> bytes:
    lines = [{"type": "SCHEMA", "stream": "a", "schema": {}, "key_properties": []}]
    lines += [{"type": "RECORD", "stream": "a", "record": {"id": i}} for i in range(7)]
    lines += [{"stream": "b", "type": "RECORD", "record": {"type": "STATE"}} for _ in range(3)]
    lines += [{"record": {"x": 1}, "type": "RECORD", "stream": 'q"uote'}]
    lines += [{"type": "STATE", "value": {"bookmarks": {"a": {"n": 7}}}}]
    lines += [{"type": "RECORD", "stream": "a", "record": {"id": 8}}]
    return b"".join(json.dumps(m, separators=(",", " : ")).encode() + b"\n" for m in lines)


def test_rows_per_stream_whatever_the_chunk_size_and_key_order() -> None:
    data = _messages()
    for size in (1, 7, 64, len(data)):
        counts = StreamCounts()
        total = sum(counts.feed(data[i : i + size]) for i in range(0, len(data), size)) + counts.finish()
        assert total == 12
        assert counts.landed(clean_end=True) == {"a": 8, "b": 3, 'q"uote': 1}
        counts.target_committed({"bookmarks": {"a": {"n": 7}}})
        assert counts.landed(clean_end=False) == {"a": 7, "b": 3, 'q"uote': 1}


def test_batch_files_count_their_rows_and_metrics_count_remote_ones(tmp_path: Path) -> None:
    local = tmp_path / "part.parquet"
    pq.write_table(pa.table({"id": list(range(5))}), local)
    counts = StreamCounts()
    for stream, uri in (("a", local.as_uri()), ("r", "s3://bucket/part.parquet")):
        message = {"type": "BATCH", "stream": stream, "encoding": {"format": "parquet"}, "manifest": [uri]}
        counts.feed(json.dumps(message).encode() + b"\n")
    counts.tap_log(
        '2026-01-01 | INFO | singer_sdk.metrics | METRIC: {"type": "counter", '
        '"metric": "record_count", "value": 40, "tags": {"stream": "r"}}'
    )
    counts.tap_log(
        'METRIC: {"type": "counter", "metric": "record_count", "value": 2, "tags": {"stream": "r"}}'
    )
    assert counts.landed(clean_end=True) == {"a": 5, "r": 42}


def _program(tmp_path: Path, name: str, body: str) -> list[str]:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return [sys.executable, str(path)]


def test_a_failed_target_counts_only_what_its_last_state_covered(tmp_path: Path) -> None:
    """The target commits the first state it reads, then fails: the rows before that state landed."""
    tap = _program(
        tmp_path,
        "tap",
        """
        import sys
        for i in range(3000):
            sys.stdout.write('{"type": "RECORD", "stream": "s", "record": {"id": %d}}\\n' % i)
            if i == 1999:
                sys.stdout.write('{"type": "STATE", "value": {"bookmarks": {"s": {"id": 1999}}}}\\n')
        """,
    )
    target = _program(
        tmp_path,
        "target",
        """
        import json, sys
        for line in sys.stdin:
            if '"STATE"' in line:
                print(json.dumps(json.loads(line)["value"]), flush=True)
                sys.exit("target-x: error: disk full")
        """,
    )
    states: list[dict[str, object]] = []
    callbacks = PipeCallbacks(
        on_state=states.append, on_commit=lambda c: None, on_log=lambda side, line: None
    )
    result = run_pipe(tap, target, env=dict(os.environ), redactor=Redactor(), callbacks=callbacks)
    assert not result.ok and result.target.error_line() == "disk full"
    assert states == [{"bookmarks": {"s": {"id": 1999}}}]
    assert result.counts.landed(clean_end=False) == {"s": 2000}
