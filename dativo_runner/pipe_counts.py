"""Rows per stream, counted from the Singer standard at the pipe, for any tap and any target.

The relay feeds every chunk of the tap's stdout here: RECORD messages are counted per stream (one
regular expression per chunk, in C), BATCH messages add their local Parquet files' row counts, and
each STATE message the tap sends takes a snapshot of the counts so far. When the target prints a
state it committed, the snapshot of that state is what landed; when the pipe ends cleanly every row
relayed landed (Singer's end-of-input convention). The tap's ``METRIC`` ``record_count`` lines are
the fallback for streams whose rows the pipe cannot see (BATCH files on remote storage).
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from typing import Any
from urllib.parse import unquote

from dativo_runner.parquet_rows import parquet_num_rows

# A RECORD message's type and stream keys, in either order (singer-sdk and singer-python write
# type first). Each starts with a literal, which the regex engine finds fast; a quote inside a
# value is escaped, so these match keys only.
_TYPE_THEN_STREAM = re.compile(rb'"type"\s*:\s*"RECORD"\s*,\s*"stream"\s*:\s*"([^"\\]*(?:\\.[^"\\]*)*)"')
_STREAM_THEN_TYPE = re.compile(rb'"stream"\s*:\s*"([^"\\]*(?:\\.[^"\\]*)*)"\s*,\s*"type"\s*:\s*"RECORD"')
_RECORD_MARK = re.compile(rb'"type"\s*:\s*"RECORD"')
_OTHER_LINE = re.compile(rb'(?m)^[^\n]*"type"\s*:\s*"(?:STATE|BATCH)"[^\n]*$')
_KEPT_STATES = 1000
_METRIC = re.compile(r"METRIC:? (\{.*\})\s*$")


def _key(state: Any) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"))


def _stream_name(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    return str(json.loads(f'"{text}"')) if "\\" in text else text


def _batch_rows(message: dict[str, Any]) -> int:
    """Rows of a BATCH message's local Parquet files (0 for files the runner cannot read)."""
    try:
        files = [f for f in message.get("manifest") or [] if str(f).startswith("file://")]
        return sum(parquet_num_rows(unquote(f.removeprefix("file://"))) for f in files)
    except Exception:  # remote or unreadable files: the tap's METRIC lines count them
        return 0


class StreamCounts:
    """Rows relayed per stream, the snapshot at each STATE the tap sent, and the tap's metrics."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []  # the start of a line the chunks so far have not ended
        self._lock = threading.Lock()
        self.relayed: Counter[str] = Counter()
        self.metric: Counter[str] = Counter()
        self.gauges: dict[str, int | float] = {}  # the tap's METRIC gauges (e.g. a slot's lag)
        self.committed: dict[str, int] | None = None  # at the last state the target committed
        self._at_state: dict[str, dict[str, int]] = {}

    def feed(self, chunk: bytes) -> int:
        """Count the complete lines of ``chunk`` (a line cut by the chunk's end waits for the
        next one); the number of rows they carry."""
        if chunk.find(b"\n") < 0:  # inside a long line: kept in pieces, joined once
            self._pieces.append(chunk)
            return 0
        data = b"".join([*self._pieces, chunk]) if self._pieces else chunk
        cut = data.rfind(b"\n") + 1
        self._pieces = [data[cut:]] if cut < len(data) else []
        before = sum(self.relayed.values())
        start = 0  # segments are read in place (pos / endpos), never copied
        if data.find(b'"STATE"', 0, cut) >= 0 or data.find(b'"BATCH"', 0, cut) >= 0:
            for line in _OTHER_LINE.finditer(data, 0, cut):
                self._count_records(data, start, line.start())
                self._other(line.group(0))
                start = line.end()
        self._count_records(data, start, cut)
        return sum(self.relayed.values()) - before

    def finish(self) -> int:
        """The tap's output ended: a last line without a newline counts too."""
        return self.feed(b"\n") if self._pieces else 0

    def _count_records(self, data: bytes, start: int, end: int) -> None:
        """RECORD messages of ``data[start:end]`` per stream."""
        upper = data.count(b'"RECORD"', start, end)  # every RECORD message, and any "RECORD" value
        if not upper:
            return
        by_name = Counter(_TYPE_THEN_STREAM.findall(data, start, end))  # in C; names decoded once
        found = sum(by_name.values())
        marks = found if found == upper else len(_RECORD_MARK.findall(data, start, end))
        if found < marks:
            by_name.update(_STREAM_THEN_TYPE.findall(data, start, end))
        counted = Counter({_stream_name(raw): n for raw, n in by_name.items()})
        if sum(by_name.values()) != marks:  # another key order: read those lines
            counted = Counter()
            for line in data[start:end].splitlines():
                if _RECORD_MARK.search(line):
                    try:
                        message = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(message, dict) and message.get("type") == "RECORD":
                        counted[str(message.get("stream"))] += 1
        with self._lock:
            self.relayed.update(counted)

    def _other(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if message.get("type") == "RECORD":  # a record holding a "type": "STATE" value
            with self._lock:
                self.relayed[str(message.get("stream"))] += 1
        elif message.get("type") == "BATCH":
            with self._lock:
                self.relayed[str(message.get("stream"))] += _batch_rows(message)
        elif message.get("type") == "STATE":
            with self._lock:
                self._at_state.pop(key := _key(message.get("value")), None)
                self._at_state[key] = dict(self.relayed)
                if len(self._at_state) > _KEPT_STATES:  # the oldest is long committed or never will be
                    self._at_state.pop(next(iter(self._at_state)))

    def target_committed(self, state: Any) -> None:
        """The target printed ``state``: the rows relayed before the tap sent it have landed."""
        with self._lock:
            snapshot = self._at_state.get(_key(state))
            if snapshot is not None:
                self.committed = snapshot

    def tap_log(self, line: str) -> None:
        """A tap log line: a singer-sdk ``METRIC`` ``record_count`` adds to its stream's count."""
        match = _METRIC.search(line)
        if match is None:
            return
        try:
            metric = json.loads(match.group(1))
        except ValueError:
            return
        if (
            isinstance(metric, dict)
            and metric.get("type") == "gauge"
            and isinstance(metric.get("metric"), str)
        ):
            value = metric.get("value")
            if isinstance(value, int | float):
                with self._lock:
                    self.gauges[metric["metric"]] = value
            return
        if not isinstance(metric, dict) or metric.get("metric") != "record_count":
            return
        tags = metric.get("tags")
        stream = tags.get("stream") if isinstance(tags, dict) else None
        value = metric.get("value")
        if isinstance(stream, str) and isinstance(value, int):
            with self._lock:
                self.metric[stream] += value

    def landed(self, clean_end: bool) -> dict[str, int]:
        """Rows per stream that landed: every row relayed after a clean end (the METRIC count for
        a stream whose rows the pipe did not see), else those before the last committed state."""
        with self._lock:
            if not clean_end:
                return dict(self.committed or {})
            streams = set(self.relayed) | set(self.metric)
            return {s: self.relayed.get(s) or self.metric.get(s, 0) for s in streams}
