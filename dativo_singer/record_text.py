"""RECORD message lines as Arrow arrays: the target's bulk path never makes a Python object per
line. The reader splits its input into an Arrow array of lines and hands on runs of RECORD lines
as ``LineBlock`` s; the converter strips the envelope every line of a block shares (the compact
``{"type":"RECORD","stream":...,"record":`` before the record, ``,"version":n,
"time_extracted":"..."}`` after it) with Arrow kernels, so Arrow's JSON reader parses only the
records."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import overload

import pyarrow as pa
import pyarrow.compute as pc

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


def split_lines(chunk: bytes) -> pa.Array:
    """The lines of ``chunk`` (split at each newline) as an Arrow array."""
    return pc.split_pattern(pa.array([chunk], LINES), b"\n").flatten()


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


def record_objects(lines: pa.Array) -> pa.Array | None:
    """The record object of each line when every line has the same compact envelope (the
    record's text alone, byte for byte); None otherwise."""
    if len(lines) == 0:
        return None
    first = lines[0].as_py()
    prefix, tail = _PREFIX.match(first), _TAIL.search(first)
    if prefix is None or tail is None or tail.start() + 1 <= prefix.end():
        return None
    before, after = first[: prefix.end()], first[tail.start() + 1 :]
    if len(lines) > 1 and not (
        pc.all(pc.starts_with(lines, pattern=before)).as_py()
        and pc.all(pc.ends_with(lines, pattern=after)).as_py()
    ):
        return None
    # A line too short to hold both (prefix and tail overlapping) is left to the whole parse.
    if pc.min(pc.binary_length(lines)).as_py() < len(before) + len(after) + 1:
        return None
    return pc.binary_slice(lines, len(before), -len(after))
