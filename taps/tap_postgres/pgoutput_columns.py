"""pgoutput row changes decoded into columns, a run of messages at a time (Arrow compute kernels).

A run is the Insert, Update and Delete messages (``pgoutput``) of one fetch, across transactions. Their
bytes are joined into one buffer; each message's tuple is walked column by column for all
messages at once (a column's kind byte, its 4-byte length, the value's place), and each column's
values are gathered into one Arrow string array. What the vector walk does not cover goes
through ``pgoutput.decode`` one message at a time (``Decoded.slow``): updates carrying the
old row (a key change, or REPLICA IDENTITY FULL) and values the log leaves out (``u``: an
unchanged TOASTed value).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

_D = ord("D")
_N = ord("N")
_TEXT, _NULL = ord("t"), ord("n")
_I64 = pa.int64()


@dataclass
class Columns:
    """Rows of one relation as text columns (in the relation's column order) and which are deletes."""

    arrays: list[pa.Array]
    deleted: pa.BooleanArray

    @property
    def num_rows(self) -> int:
        """How many rows."""
        return len(self.deleted)


class _Buffer:
    """The run's bytes as one uint8 array, read at many positions at once."""

    def __init__(self, data: bytes) -> None:
        self.size = len(data)
        self.bytes = pa.Array.from_buffers(pa.uint8(), self.size, [None, pa.py_buffer(data)])

    def at(self, positions: pa.Array) -> pa.Array:
        """The byte at each position (clipped to the buffer) as int64."""
        return self.bytes.take(pc.min_element_wise(positions, self.size - 1)).cast(_I64)

    def int32(self, positions: pa.Array) -> pa.Array:
        """The big-endian int32 at each position."""
        value = self.at(positions)
        for step in (1, 2, 3):
            value = pc.bit_wise_or(pc.shift_left(value, 8), self.at(pc.add(positions, step)))
        return value

    def strings(self, starts: pa.Array, sizes: pa.Array, valid: pa.BooleanArray) -> pa.Array:
        """The values at ``starts`` (``sizes`` bytes each) as one string array, null where not
        ``valid``: a list array over the buffer whose even lists are the values, taken."""
        count = len(starts)
        steps = _arange(2 * count)
        odd = pc.bit_wise_and(steps, 1)
        order = pc.add(pc.shift_right(steps, 1), pc.multiply(odd, count))
        both = pa.concat_arrays([starts, pc.add(starts, sizes)])
        offsets = pa.concat_arrays([both.take(order), pa.array([self.size], _I64)])
        lists = pa.LargeListArray.from_arrays(offsets, self.bytes)
        values = lists.take(pc.multiply(_arange(count), 2))
        valid = pc.invert(pc.invert(valid))  # a fresh bitmap at offset 0
        binary = pa.Array.from_buffers(
            pa.large_binary(),
            count,
            [valid.buffers()[1], values.offsets.buffers()[1], values.values.buffers()[1]],
            null_count=count - pc.sum(valid.cast(_I64)).as_py(),
        )
        return binary.cast(pa.large_string()).cast(pa.string())


def _arange(count: int) -> pa.Array:
    """0 .. count - 1."""
    return pc.subtract(pc.cumulative_sum(pa.repeat(1, count).cast(_I64)), 1)


def decode_run(messages: Sequence[bytes], relid: int, width: int) -> Decoded:
    """The row changes of ``relid`` among ``messages`` (Insert, Update, Delete messages, of any
    number of transactions), decoded at once.

    ``width`` is the relation's column count: a message whose tuple has another goes the slow
    way, as do updates carrying the old row and values the log leaves out."""
    if not messages:
        return Decoded(messages, Columns([], pa.array([], pa.bool_())), [0], [])
    lengths = pa.array(list(map(len, messages)), _I64)
    buffer = _Buffer(b"".join(messages))
    starts = pc.subtract(pc.cumulative_sum(lengths), lengths)
    tags = buffer.at(starts)
    ours = pc.equal(buffer.int32(pc.add(starts, 1)), relid)
    kind = buffer.at(pc.add(starts, 5))
    # Inserts ("N"), deletes ("K"/"O" then the old tuple) and updates without the old row ("N").
    simple = pc.and_(ours, pc.or_(pc.equal(tags, _D), pc.equal(kind, _N)))
    pos = pc.add(starts, 6)
    counts = pc.bit_wise_or(pc.shift_left(buffer.at(pos), 8), buffer.at(pc.add(pos, 1)))
    simple = pc.and_(simple, pc.equal(counts, width))
    at = pc.add(pos, 2).filter(simple)
    fields: list[tuple[pa.Array, pa.Array, pa.BooleanArray]] = []
    whole = pa.repeat(True, len(at))  # rows with every value in the log
    for _ in range(width):
        kinds = buffer.at(at)
        text = pc.equal(kinds, _TEXT)
        whole = pc.and_(whole, pc.or_(text, pc.equal(kinds, _NULL)))
        size = pc.if_else(text, buffer.int32(pc.add(at, 1)), 0)
        fields.append((pc.if_else(text, pc.add(at, 5), pc.add(at, 1)), size, text))
        at = pc.add(pc.add(at, 1), pc.if_else(text, pc.add(size, 4), 0))
    columns = [buffer.strings(*field) for field in fields] if len(at) else [pa.array([], pa.string())] * width
    if len(at) and not pc.all(whole).as_py():  # unchanged TOASTed values: those messages the slow way
        simple = pc.replace_with_mask(simple, simple, whole)
        columns = [column.filter(whole) for column in columns]
    deleted = pc.equal(tags.filter(simple), _D)
    rows_before = [0, *pc.cumulative_sum(simple.cast(_I64)).to_pylist()]
    slow = pc.indices_nonzero(pc.and_(ours, pc.invert(simple))).to_pylist()
    return Decoded(messages, Columns(columns, deleted), rows_before, slow)


@dataclass
class Decoded:
    """A decoded run: ``columns`` holds the rows of the messages decoded at once (``rows_before[i]``
    of them come from messages before the ``i``-th); ``slow`` lists the messages of the relation
    left to decode one by one."""

    messages: Sequence[bytes]
    columns: Columns
    rows_before: list[int]
    slow: list[int]

    def parts(self, low: int, high: int) -> list[tuple[int, int] | bytes]:
        """The rows of messages ``low`` to ``high`` (excluded) in log order: ranges of rows of
        ``columns``, and the messages to decode one by one."""
        found: list[tuple[int, int] | bytes] = []
        start = low
        for index in self.slow[bisect.bisect_left(self.slow, low) : bisect.bisect_left(self.slow, high)]:
            if self.rows_before[index] > self.rows_before[start]:
                found.append((self.rows_before[start], self.rows_before[index]))
            found.append(self.messages[index])
            start = index + 1
        if self.rows_before[high] > self.rows_before[start]:
            found.append((self.rows_before[start], self.rows_before[high]))
        return found
