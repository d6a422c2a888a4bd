"""RECORD message lines as Arrow arrays: the target's bulk path never makes a Python object per
line. The reader splits its input into an Arrow array of lines and hands on runs of RECORD lines
as ``LineBlock`` s; the converter strips the envelope every line of a block shares (the compact
``{"type":"RECORD","stream":...,"record":`` before the record, ``,"version":n,
"time_extracted":"..."}`` after it) with Arrow kernels, so Arrow's JSON reader parses only the
records."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator, Sequence
from typing import overload

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

LINES = pa.large_binary()
_NEWLINE = pa.scalar(b"\n", LINES)
_EMPTY = pa.scalar(b"", LINES)
# The envelope around a record as singer-sdk (and our taps) write it; a block whose lines do not
# all share one such prefix and tail is parsed whole.
_PREFIX = re.compile(rb'\{"type":"RECORD","stream":"[^"\\\x00-\x1f]*","record":')
_TAIL = re.compile(rb'\}(,"version":-?(0|[1-9][0-9]*))?,"time_extracted":"[^"\\\x00-\x1f]*"\}\Z')


class LineBlock(Sequence[bytes]):
    """Lines (without their newlines) held in one Arrow ``large_binary`` array."""

    def __init__(self, lines: pa.Array) -> None:
        self.array = lines

    def __len__(self) -> int:
        return len(self.array)

    @overload
    def __getitem__(self, index: int) -> bytes: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[bytes]: ...

    def __getitem__(self, index: int | slice) -> bytes | Sequence[bytes]:
        if isinstance(index, slice):
            return self.array[index].to_pylist()
        return self.array[index].as_py()

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.array.to_pylist())


def line_array(lines: Sequence[bytes]) -> pa.Array:
    """The lines as one Arrow array (a ``LineBlock``'s own, else a copy)."""
    if isinstance(lines, LineBlock):
        return lines.array
    return pa.array(lines, LINES)


def concat_lines(blocks: list[pa.Array]) -> LineBlock:
    """Several arrays of lines as one block."""
    return LineBlock(blocks[0] if len(blocks) == 1 else pa.concat_arrays(blocks))


def split_lines(chunk: bytes | memoryview) -> pa.Array:
    """The lines of ``chunk`` (split at each newline) as an Arrow array of their own (``chunk``
    may be reused once this returns)."""
    data = pa.py_buffer(chunk)
    whole = pa.Array.from_buffers(LINES, 1, [None, pa.py_buffer(struct.pack("<2q", 0, data.size)), data])
    return pc.split_pattern(whole, b"\n").flatten()


def value_offsets(lines: pa.Array) -> memoryview:
    """The array's offsets: line ``i`` spans bytes ``offsets[i]`` to ``offsets[i + 1]``."""
    offsets = lines.buffers()[1]
    assert offsets is not None
    return memoryview(offsets).cast("q")[lines.offset : lines.offset + len(lines) + 1]


def joined(lines: pa.Array) -> pa.Buffer:
    """The lines back to back, each followed by a newline, as one buffer."""
    if len(lines) == 0:
        return pa.py_buffer(b"")
    text = pc.binary_join_element_wise(lines, _NEWLINE, _EMPTY)
    offsets = value_offsets(text)
    data = text.buffers()[2]
    assert data is not None
    return data.slice(offsets[0], offsets[-1] - offsets[0])


def record_objects(lines: pa.Array, most_runs: int = 8) -> pa.Array | None:
    """The text of each line between the compact envelope's prefix and tail when the lines come
    in at most ``most_runs`` runs, each sharing one prefix and tail (a tap writes one
    ``time_extracted`` per block); None otherwise.

    The text is the line's record, byte for byte, unless the line's envelope holds more fields
    than the tail shows: then it is the record followed by ``,"field":value``, which no JSON
    parser takes for one document (the caller's parse fails and it parses whole lines)."""
    runs: list[pa.Array] = []
    while len(lines) and len(runs) < most_runs:
        first = lines[0].as_py()
        prefix, tail = _PREFIX.match(first), _TAIL.search(first)
        # A line too short to hold both (prefix and tail overlapping) is left to the whole parse.
        if prefix is None or tail is None or tail.start() + 1 <= prefix.end():
            return None
        before, after = first[: prefix.end()], first[tail.start() + 1 :]
        shared = pc.and_(pc.starts_with(lines, pattern=before), pc.ends_with(lines, pattern=after))
        end = pc.index(shared, False).as_py()
        run = lines if end < 0 else lines.slice(0, end)
        if pc.min(pc.binary_length(run)).as_py() < len(before) + len(after) + 1:
            return None
        runs.append(pc.binary_slice(run, len(before), -len(after)))
        lines = lines.slice(len(run))
    if len(lines) or not runs:
        return None
    return runs[0] if len(runs) == 1 else pa.concat_arrays(runs)


def parsed_records(
    lines: pa.Array, records: pajson.ParseOptions, envelopes: pajson.ParseOptions
) -> pa.Table | None:
    """The records of RECORD lines, one row each, by Arrow's JSON reader: the record objects
    alone (``records``: their schema) when the lines share compact envelopes, else the whole
    lines (``envelopes``: a ``record`` struct); None when Arrow cannot read them."""
    objects = record_objects(lines)
    if objects is not None:
        table = _read_json(objects, records)
        return table if table is not None and table.num_rows == len(lines) else None
    parsed = _read_json(lines, envelopes)
    if parsed is None:
        return None
    record = parsed.column("record").chunk(0)
    if record.null_count or len(record) != len(lines):
        return None
    return pa.Table.from_arrays(record.flatten(), names=[f.name for f in record.type])


def _read_json(lines: pa.Array, options: pajson.ParseOptions) -> pa.Table | None:
    data = joined(lines)
    longest = int(pc.max(pc.binary_length(lines)).as_py() or 0) + 1  # a block holds a line whole
    block = max(1 << 20, data.size // 2 + 1, longest)
    try:  # two blocks parsed on two threads: the tap often waits on the pipe (benchmarks/README.md)
        table = pajson.read_json(
            pa.BufferReader(data),
            read_options=pajson.ReadOptions(block_size=block, use_threads=True),
            parse_options=options,
        ).combine_chunks()
        table.validate()  # Arrow 26 builds invalid arrays for lists of nulls it infers
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, pa.ArrowIndexError):
        return None
    return table
