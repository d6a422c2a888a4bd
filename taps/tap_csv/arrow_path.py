"""tap-csv's columnar fast path: one file read by Arrow's streaming CSV reader, block by block,
its cells typed in bulk exactly as the RECORD path types them one by one.

Arrow reads every cell as text (no null or type inference), which gives the raw cells for the
row checksum (``row_texts``) and lets this module apply the RECORD path's rules itself: a cell
listed in ``null_values`` is null, every other cell must parse as its column's type. A value Arrow
does not parse the way ``dativo_singer.text_values`` would (``+5``, `` 1.5 ``, ``nan``, a null in a required
column, ...) marks its row *irregular*: the stream sends that row through the RECORD path, so its
value, its reject reason and its error are the RECORD path's own.

A file is read this way only when its physical lines can be counted from the cells (UTF-8, no
empty line, no lone carriage return): the line of each record is the line after the previous
record's, plus the line breaks inside its quoted cells. Other files, and the rest of a file
after a record Arrow cannot parse, go through the RECORD path (``open_arrow`` returns None, or
``ArrowCSV.blocks`` raises ``pa.ArrowInvalid``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from io import BufferedIOBase
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from dativo_singer import text_values as values
from dativo_singer.arrow_types import arrow_type, json_text_kind
from tap_csv.files import FileSpec
from tap_csv.reader import text_codec

BLOCK_BYTES = 1024 * 1024
# Above this many irregular rows in a block, the whole block takes the RECORD path (one BATCH
# file per run of regular rows would cost more than it saves).
MOST_IRREGULAR = 0.01
_UTF8 = ("utf-8", "utf-8-sig", "ascii")
_BOM = b"\xef\xbb\xbf"
_ZONED = r"[T ]\d.*([Zz]|[+-]\d\d(:?\d\d)?)$"  # a timestamp with a zone offset
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)
_TRUE = pa.array(sorted(values._TRUE))
_FALSE = pa.array(sorted(values._FALSE))
_EMPTY_ONLY = pa.array([""], pa.string())

# What the RECORD path's converter of a column does, by the column's final Arrow type.
_KINDS: dict[Any, str] = {
    values._parse_integer: "cast",
    values._parse_number: "float",
    values._parse_decimal: "cast",
    values._parse_boolean: "boolean",
    values._parse_date: "cast",
    values._parse_timestamp: "timestamp",
    values._parse_time: "time",
    values._parse_string: "string",
}


@dataclass(frozen=True)
class Column:
    """A schema column the fast path can type: its position in the file's header, its name, how
    it is typed, its Arrow type in the BATCH file, and whether a null is a regular value."""

    position: int
    name: str
    kind: str
    type: pa.DataType
    nullable: bool


def column_plan(prop: dict[str, Any]) -> tuple[str, pa.DataType] | None:
    """How the fast path types a property (kind, Arrow type), or None when only the RECORD
    path can (JSON cells, mixed types)."""
    kind = _KINDS.get(values.converter_for(prop))
    final = arrow_type(prop)
    if kind is None or (kind == "string" and json_text_kind(prop, final) is not None):
        return None
    if kind == "time":
        return kind, pa.string()  # the normalized text, typed by the target as on the RECORD path
    if kind == "float" and not pa.types.is_floating(final):
        return None
    return kind, final


def _null_scalar(type_: pa.DataType) -> pa.Scalar:
    return pa.scalar(None, type_)


def _cast_each(texts: pa.Array, type_: pa.DataType, irregular: set[int]) -> None:
    """Add the rows whose text Arrow does not cast to ``type_``."""
    for index, text in enumerate(texts.to_pylist()):
        if text is not None:
            try:
                pc.cast(pa.array([text]), type_)
            except _ARROW_ERRORS:
                irregular.add(index)


def _timestamps(texts: pa.Array, type_: pa.DataType) -> pa.Array:
    """ISO texts as UTC timestamps: with an offset, or without one (then UTC)."""
    try:
        return pc.cast(texts, type_)
    except _ARROW_ERRORS:
        pass
    offset = pc.match_substring_regex(texts, _ZONED)
    zoned = pc.cast(pc.if_else(offset, texts, _null_scalar(pa.string())), type_)
    naive = pc.cast(pc.if_else(offset, _null_scalar(pa.string()), texts), pa.timestamp(type_.unit))
    return pc.coalesce(zoned, pc.assume_timezone(naive, "UTC").cast(type_))


def _timestamps_each(texts: pa.Array, type_: pa.DataType, irregular: set[int]) -> None:
    for index, text in enumerate(texts.to_pylist()):
        if text is not None:
            try:
                _timestamps(pa.array([text]), type_)
            except _ARROW_ERRORS:
                irregular.add(index)


def _mask(rows: int, indices: set[int]) -> pa.Array:
    return pa.array([index in indices for index in range(rows)], pa.bool_())


def null_cells(texts: pa.Array, nulls: pa.Array) -> pa.Array | None:
    """Where the cells are one of ``nulls`` (the ``null_values``); None where none is. With the
    default (the empty cell alone) the cells' lengths tell, without hashing every cell."""
    if nulls.equals(_EMPTY_ONLY):
        shortest = pc.min(pc.binary_length(texts)).as_py()
        return None if shortest is None or shortest > 0 else pc.equal(pc.binary_length(texts), 0)
    is_null = pc.is_in(texts, value_set=nulls)
    return is_null if pc.any(is_null).as_py() else None


def type_column(column: Column, texts: pa.Array, nulls: pa.Array, irregular: set[int]) -> pa.Array:
    """One column of a block typed as the RECORD path would type it; rows it cannot type that
    way are added to ``irregular`` (their value here is null)."""
    is_null = null_cells(texts, nulls)
    if is_null is not None:
        if not column.nullable:
            irregular.update(pc.indices_nonzero(is_null).to_pylist())
        texts = pc.if_else(is_null, _null_scalar(pa.string()), texts)
    if column.kind == "string":
        return texts
    if column.kind == "boolean":
        true = pc.equal(texts, "true")
        if pc.all(pc.or_(true, pc.equal(texts, "false"))).as_py() is not False:
            return true  # the usual spelling only (nulls stay null): no normalizing needed
        norm = pc.utf8_lower(pc.utf8_trim_whitespace(texts))
        true, false = pc.is_in(norm, value_set=_TRUE), pc.is_in(norm, value_set=_FALSE)
        neither = pc.and_(pc.is_valid(texts), pc.invert(pc.or_(true, false)))
        irregular.update(pc.indices_nonzero(neither).to_pylist())
        return pc.if_else(true, True, pc.if_else(false, False, _null_scalar(pa.bool_())))
    if column.kind == "time":
        times: list[str | None] = []
        for index, text in enumerate(texts.to_pylist()):
            try:
                times.append(None if text is None else values._parse_time(text))
            except ValueError:
                irregular.add(index)
                times.append(None)
        return pa.array(times, pa.string())
    convert = _timestamps if column.kind == "timestamp" else pc.cast
    try:
        typed = convert(texts, column.type)
    except _ARROW_ERRORS:
        found: set[int] = set()
        (_timestamps_each if column.kind == "timestamp" else _cast_each)(texts, column.type, found)
        irregular.update(found)
        typed = convert(pc.if_else(_mask(len(texts), found), _null_scalar(pa.string()), texts), column.type)
    return typed  # nan/inf stay IEEE values, as the RECORD path's "NaN"/"Infinity" land


def row_texts(block: pa.RecordBatch) -> pa.Array:
    """Each row's cells joined as the row checksum takes them: ``\\x1f`` between cells, ``\\x1e``
    after the row (``streams._RowDigest``)."""
    joined = block.column(0)
    if block.num_columns > 1:
        joined = pc.binary_join_element_wise(*block.columns, "\x1f")
    return pc.binary_join_element_wise(joined, "", "\x1e")


def text_bytes(texts: pa.Array, start: int, stop: int) -> memoryview:
    """The bytes of rows ``start``-``stop`` of a string array, back to back, without copying."""
    if stop <= start:
        return memoryview(b"")
    _, offsets, data = texts.buffers()
    assert offsets is not None and data is not None and texts.type == pa.string()
    bounds = memoryview(offsets).cast("i")  # int32 offsets
    return memoryview(data)[bounds[texts.offset + start] : bounds[texts.offset + stop]]


class BlockTexts:
    """A block's rows joined as the row checksum takes them (``row_texts``), joined on first
    use: in the checksum's worker thread (``RowDigest.add_soon``), off the parsing thread."""

    def __init__(self, block: pa.RecordBatch) -> None:
        self._block = block
        self._texts: pa.Array | None = None

    def rows(self, start: int, stop: int) -> Callable[[], memoryview]:
        """The bytes of rows ``start``-``stop``, when called."""
        return lambda: text_bytes(self._joined(), start, stop)

    def _joined(self) -> pa.Array:
        if self._texts is None:
            self._texts = row_texts(self._block)
        return self._texts


class ArrowCSV:
    """One CSV file's data rows as blocks of text cells, with the physical line of each row."""

    def __init__(self, spec: FileSpec, path: Path, width: int, offset: int, quoted: bool, first_line: int):
        self.spec, self.path, self.width = spec, path, width
        self._offset, self._quoted = offset, quoted
        self.next_line = first_line  # the physical line of the next row

    def blocks(self) -> Iterator[tuple[pa.RecordBatch, pa.Array]]:
        """``(cells, lines)`` per block; raises ``pa.ArrowInvalid`` at a block Arrow cannot parse
        (a row of another width, bytes that are not UTF-8, ...)."""
        names = [f"c{i}" for i in range(self.width)]
        # Plain reads, not a memory map: a mapped file's touched pages count in the tap's RSS
        # until the map closes, so memory grew with the file (benchmarks/README.md).
        with pa.OSFile(str(self.path)) as source:
            source.seek(self._offset)
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(column_names=names, block_size=BLOCK_BYTES, use_threads=True),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.spec.delimiter,
                    quote_char=self.spec.quotechar,
                    newlines_in_values=self._quoted,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                    null_values=[],
                ),
            )
            for block in reader:
                yield block, self._lines(block)

    def _lines(self, block: pa.RecordBatch) -> pa.Array:
        rows = block.num_rows
        if not self._quoted:
            spans = constant(1, pa.int64(), rows)
        else:  # a record spans one line plus the line breaks inside its cells
            spans = pc.add(pc.count_substring(block.column(0), "\n"), 1).cast(pa.int64())
            for column in block.columns[1:]:
                spans = pc.add(spans, pc.count_substring(column, "\n"))
        ends = pc.add(pc.cumulative_sum(spans), self.next_line)
        self.next_line += pc.sum(spans).as_py() or 0
        return pc.subtract(ends, spans)


_SCAN_BYTES = 8 * 1024 * 1024
_EMPTY_LINE = re.compile(b"\n\n")


def _scan(handle: BufferedIOBase, offset: int) -> Iterator[tuple[bytearray, int, int]]:
    """The file after ``offset`` as ``(buffer, size, cut)`` windows, read ``_SCAN_BYTES`` at a
    time into one reused buffer (bounded memory whatever the file size, no copy per chunk): the
    window ``buffer[:size]`` holds the previous window's last bytes and the next chunk, so a
    pattern of up to 3 bytes across a chunk boundary is found in it; the bodies
    ``buffer[:cut]`` partition the file (each byte in exactly one body) and never end between
    ``\r`` and ``\n``, so counting ``\r`` and ``\r\n`` in bodies counts them in the file."""
    handle.seek(offset)
    buffer = bytearray(_SCAN_BYTES + 3)
    view = memoryview(buffer)
    carry = 0
    while read := handle.readinto(view[carry : carry + _SCAN_BYTES]):
        size = carry + read
        cut = size - 2
        if cut > 0 and buffer[cut - 1] == 0x0D:  # \r
            cut -= 1
        cut = max(cut, 0)
        yield buffer, size, cut
        carry = size - cut
        buffer[:carry] = buffer[cut:size]
    if carry:
        yield buffer, carry, carry


def _survey(handle: BufferedIOBase, offset: int, quote: bytes) -> tuple[bool, bool]:
    """``(irregular, quoted)`` of the file after ``offset``, in one read: irregular when it has
    an empty line or a lone carriage return, quoted when ``quote`` (one character) occurs.
    Searched in C, in place: a compiled pattern finds ``\n\n`` (``re`` scans for it about 2.5
    times as fast as ``bytes.__contains__``); a window without ``\r`` needs no ``\n\r\n``
    search and no line-end count."""
    returns = crlfs = 0
    quoted = False
    for buffer, size, cut in _scan(handle, offset):
        if _EMPTY_LINE.search(buffer, 0, size):
            return True, quoted
        if buffer.find(b"\r", 0, size) >= 0:
            if buffer.find(b"\n\r\n", 0, size) >= 0:
                return True, quoted
            returns += buffer.count(b"\r", 0, cut)
            crlfs += buffer.count(b"\r\n", 0, cut)
        quoted = quoted or buffer.find(quote, 0, cut) >= 0
    return returns != crlfs, quoted


def open_arrow(spec: FileSpec, path: Path, width: int, lines_before: int) -> ArrowCSV | None:
    """The file's data rows for Arrow, after ``lines_before`` physical lines (skipped lines and
    the header); None when the fast path cannot number its lines (see the module docstring)."""
    if text_codec(spec.encoding) not in _UTF8 or width == 0 or path.stat().st_size == 0:
        return None
    with path.open("rb") as handle:
        offset = 0
        for _ in range(lines_before):
            line = handle.readline()
            if not line.endswith(b"\n"):
                return None
            offset += len(line)
        if offset == 0 and handle.read(3) == _BOM:
            offset = 3
        handle.seek(offset)
        if handle.read(1) in (b"\n", b"\r"):
            return None
        irregular, quoted = _survey(handle, offset, spec.quotechar.encode())
        if irregular:
            return None
    return ArrowCSV(spec, path, width, offset, quoted, lines_before + 1)


def constant(value: Any, type_: pa.DataType, rows: int) -> pa.Array:
    """``rows`` copies of one value."""
    return pc.fill_null(pa.nulls(rows, type_), pa.scalar(value, type_))


def typed_block(
    columns: Sequence[Column],
    block: pa.RecordBatch,
    nulls: pa.Array,
) -> tuple[dict[str, pa.Array], set[int]]:
    """The block's schema columns typed, and the rows only the RECORD path may type."""
    irregular: set[int] = set()
    typed = {c.name: type_column(c, block.column(c.position), nulls, irregular) for c in columns}
    return typed, irregular
