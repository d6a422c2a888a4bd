"""A Singer message reader for the hot path.

Input is read in large blocks and split into an Arrow array of lines. RECORD lines of the stream
seen last, in the compact form singer-sdk writes (``{"type":"RECORD","stream":"s","record":...``),
are recognised by their prefix (one Arrow kernel per block) and handed on in bulk as runs of that
array (``record_text.LineBlock``: the target parses them with Arrow's JSON reader); every other
line is decoded with orjson (a RECORD holding a long number with exact integers and decimals,
``conversion.loads_exact``) and dispatched one by one, after the pending RECORD lines, so the
order of messages is kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import select
import stat
import sys
import typing as t
from bisect import bisect_left
from collections import Counter

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

from dativo_singer.exact_json import holds_long_number, loads_exact
from dativo_singer.record_text import LineBlock, concat_lines, split_lines, value_offsets
from dativo_singer.sdk_internals import process_unknown_message

RecordLinesCallback = t.Callable[[str, LineBlock, int], None]
_BLOCK = 1 << 22
_FILL = 1 << 21  # a read goes on while input is ready until this much is in
_PIPE_BYTES = 1 << 20  # the default unprivileged maximum (/proc/sys/fs/pipe-max-size)
LINES_PER_CALL = 10_000


def _record_prefix(stream: str) -> bytes:
    return b'{"type":"RECORD","stream":' + orjson.dumps(stream) + b',"record":'


def _pipe_widened(binary: t.Any) -> int | None:
    """The input's file descriptor (None without one); a pipe is widened to ``_PIPE_BYTES`` so a
    fast writer fills it in fewer, larger pieces."""
    try:
        descriptor = int(binary.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    widen = getattr(fcntl, "F_SETPIPE_SZ", None)
    with contextlib.suppress(OSError):
        if widen is not None and stat.S_ISFIFO(os.fstat(descriptor).st_mode):
            fcntl.fcntl(descriptor, widen, _PIPE_BYTES)
    return descriptor


def _fill(readinto: t.Callable[[memoryview], int], view: memoryview, descriptor: int | None) -> int:
    """Bytes read into ``view``: what one read gives, and more while more is ready at once (up
    to ``_FILL``), so a slow writer's message is seen as soon as it comes, a fast writer's input
    in large blocks."""
    size = readinto(view)
    while descriptor is not None and 0 < size < _FILL and select.select([descriptor], [], [], 0)[0]:
        more = readinto(view[size:])
        if not more:
            break
        size += more
    return size


class FastSingerReader(GenericSingerReader[bytes]):
    """Reads stdin as bytes; bulk RECORD lines go to ``record_lines_callback`` when set.

    ``current_line_bytes`` is the size of the message being dispatched, for byte-based batching.
    """

    current_line_bytes = 0
    record_lines_callback: RecordLinesCallback | None = None

    @property
    def default_input(self) -> t.IO[bytes]:
        """Standard input, binary."""
        return sys.stdin.buffer

    def deserialize_json(self, line: bytes) -> dict:
        """Decode one message line."""
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InvalidInputLine(f"Unable to parse line as JSON: {line[:200]!r}") from exc
        if not isinstance(message, dict) or "type" not in message:
            raise InvalidInputLine(f"Not a Singer message: {line[:200]!r}")
        if message["type"] == "RECORD" and holds_long_number(line):
            return dict(loads_exact(line))  # integers beyond 64 bits, long decimals: exact
        return message

    @staticmethod
    def _chunks(source: t.IO[t.Any]) -> t.Iterator[bytes | memoryview]:
        """The input as chunks of whole lines (joined by ``\\n``, without the last one's); a
        chunk is valid until the next one is asked for (the buffer is reused)."""
        if isinstance(source, io.TextIOBase) and not hasattr(source, "buffer"):
            for text in source:  # e.g. an in-memory text stream
                yield text.encode().rstrip(b"\n")
            return
        binary = getattr(source, "buffer", source)
        # readinto1: whatever has arrived (up to a block), so a slow tap's STATE is seen at once
        # rather than when a whole block is full; into one reused buffer (``read1(n)`` allocates
        # n bytes per call, however few a pipe delivers: a tap flushing often cost seconds).
        readinto = getattr(binary, "readinto1", None)
        buffer = bytearray(_BLOCK)
        kept = 0  # the start of a line not yet complete, at the buffer's start
        descriptor = _pipe_widened(binary)
        while True:
            if kept == len(buffer):  # a line longer than the buffer
                buffer = buffer + bytearray(len(buffer))  # a new one: chunks may still be viewed
            view = memoryview(buffer)
            if readinto is not None:
                size = _fill(readinto, view[kept:], descriptor)
            else:
                block = binary.read(len(buffer) - kept)
                size = len(block)
                view[kept : kept + size] = block
            if not size:
                break
            filled, end = kept + size, buffer.rfind(b"\n", kept, kept + size)
            if end < 0:
                kept = filled
                continue
            yield view[:end]
            rest = bytes(view[end + 1 : filled])
            kept = len(rest)
            view[:kept] = rest
        if kept:
            yield memoryview(buffer)[:kept]

    @staticmethod
    def _other_lines(lines: pa.Array, prefix: bytes | None) -> list[int]:
        """Indices of the lines that are not RECORD lines of the current stream."""
        if prefix is None:
            return []
        return pc.indices_nonzero(pc.invert(pc.starts_with(lines, pattern=prefix))).to_pylist()

    def process_lines(
        self,
        file_input: t.IO[t.Any] | None,
        callbacks: dict[str, t.Callable[[dict], None]],
    ) -> t.Counter[str]:
        """Dispatch every message; counts per message type."""
        stats: Counter[str] = Counter()
        bulk = self.record_lines_callback
        prefix: bytes | None = None
        stream = ""
        pending: list[pa.Array] = []
        pending_rows = pending_bytes = 0

        def hand_on() -> None:
            nonlocal pending, pending_rows, pending_bytes
            if pending and bulk is not None:
                bulk(stream, concat_lines(pending), pending_bytes)
                stats["RECORD"] += pending_rows
            pending, pending_rows, pending_bytes = [], 0, 0

        for chunk in self._chunks(file_input or self.default_input):
            lines = split_lines(chunk)
            others = self._other_lines(lines, prefix)
            offsets = value_offsets(lines)
            index, count = 0, len(lines)
            while index < count:
                if prefix is not None:  # the run of RECORD lines from here, handed on in bulk
                    end = others[bisect_left(others, index)] if others and others[-1] >= index else count
                    if end > index:
                        pending.append(lines.slice(index, end - index))
                        pending_rows += end - index
                        pending_bytes += offsets[end] - offsets[index]
                        if pending_rows >= LINES_PER_CALL:
                            hand_on()
                        index = end
                        continue
                line = lines[index].as_py()
                index += 1
                if not line.strip():
                    continue
                hand_on()
                message = self.deserialize_json(line)
                kind = message["type"]
                self.current_line_bytes = len(line)
                named = message.get("stream")
                new_stream = isinstance(named, str) and (named != stream or prefix is None)
                if kind == "RECORD" and bulk is not None and new_stream:
                    stream, prefix = message["stream"], _record_prefix(message["stream"])
                    others = self._other_lines(lines, prefix)
                if callback := callbacks.get(kind):
                    callback(message)
                else:
                    process_unknown_message(self, message)
                stats[kind] += 1
        hand_on()
        return stats
