"""Bulk RECORD path: a driver's Arrow record batch → Singer RECORD lines, column by column.

Each column becomes an Arrow string column of JSON text (its *fragments*), the same text the
per-record path writes for the value (``values`` converters, then ``conversion.exact_json``):
integers and dates by Arrow's casts, strings quoted (values holding a quote, backslash or control
character by orjson), timestamps as ISO 8601 with ``+00:00``, decimals by the database's own
digits, floats by orjson over the whole column. Values whose text Arrow could get wrong (decimals
Python writes in exponent form, JSON documents, arrays, times) go through the per-record
converters one by one, so the text is the same by construction. The fragments are then joined
into whole lines by one Arrow kernel and written as one block.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from dativo_singer import value_contract as contract
from dativo_singer.exact_json import exact_json, loads_exact
from dativo_singer.sql import types as k
from dativo_singer.sql.temporal_range import check_temporal_range
from dativo_singer.sql.values import decimal_text, record_converters

_TEXT = pa.large_string()
_NULL = pa.scalar("null", _TEXT)
# A string value orjson escapes: a quote, a backslash or a control character.
_ESCAPED = r'["\\\x00-\x1f]'
# Decimal text that ``str(Decimal(text))`` gives back unchanged (Python writes |x| < 1e-6 and
# zeros with more than six decimals in exponent form: those go through Python).
_PLAIN_DECIMAL = r"^-?[0-9]+(\.[0-9]+)?$"
_SMALL_DECIMAL = r"^-?0\.0{6}"
# Byte → 1 when orjson escapes it in a string, else 0 (``bytes.translate`` then ``find``: a fast
# scan of a whole column's text).
_ESCAPED_BYTES = bytes(1 if byte < 0x20 or byte in b'"\\' else 0 for byte in range(256))
_STRING_KINDS = (k.STRING, k.UUID, k.BINARY, k.UNMAPPED, k.DECIMAL_TEXT, k.TIME_TEXT)
# A column's JSON text as (literal before each value, values, literal after each value).
Parts = tuple[str, pa.Array, str]


def _storage(column: pa.Array) -> pa.Array:
    return column.storage if isinstance(column.type, pa.ExtensionType) else column


def _text(values: list[bytes | None]) -> pa.Array:
    return pa.array([b"null" if v is None else v for v in values], pa.large_binary()).cast(_TEXT)


def _per_value(column: pa.Array, convert: Callable[[Any], Any] | None) -> pa.Array:
    """The per-record path's text of each value: its converter, then ``exact_json``."""
    out: list[bytes | None] = []
    for value in column.to_pylist():
        if value is not None and convert is not None:
            value = convert(value)
        out.append(None if value is None else exact_json(value))
    return _text(out)


def _patch(fragments: pa.Array, column: pa.Array, mask: pa.Array, convert: Callable[[Any], Any]) -> pa.Array:
    """``fragments`` with the rows of ``mask`` replaced by the per-value text of ``column``."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return fragments
    picked = pc.filter(column, mask)
    return pc.replace_with_mask(fragments, mask, _per_value(picked, convert))


def _value_bytes(text: pa.Array) -> memoryview:
    """The bytes of a string array's values (of its slice only), back to back."""
    offsets_buffer, data = text.buffers()[1], text.buffers()[2]
    if offsets_buffer is None or data is None or len(text) == 0:
        return memoryview(b"")
    offsets = memoryview(offsets_buffer).cast("q" if pa.types.is_large_string(text.type) else "i")
    return memoryview(data)[offsets[text.offset] : offsets[text.offset + len(text)]]


def _quoted(column: pa.Array) -> Parts:
    """JSON strings of a string column."""
    text = column.cast(_TEXT)
    if bytes(_value_bytes(text)).translate(_ESCAPED_BYTES).find(1) < 0:  # nothing to escape
        return _around(text, '"', '"')
    quote = pa.scalar('"', _TEXT)
    fragments = pc.binary_join_element_wise(quote, text, quote, pa.scalar("", _TEXT))
    return "", _patch(fragments, text, pc.match_substring_regex(text, _ESCAPED), lambda v: v), ""


def _around(text: pa.Array, before: str, after: str) -> Parts:
    """``before`` + each value + ``after`` (a null stays a JSON null): the literals are left to
    the line join when there are no nulls."""
    if text.null_count == 0:
        return before, text, after
    joined = pc.binary_join_element_wise(
        pa.scalar(before, _TEXT), text, pa.scalar(after, _TEXT), pa.scalar("", _TEXT)
    )
    return "", joined, ""


def _orjson_numbers(column: pa.Array) -> pa.Array:
    """Numbers (or booleans) as orjson writes them, the whole column in one call."""
    if len(column) == 0:
        return pa.array([], _TEXT)
    joined = orjson.dumps(column.to_pylist())[1:-1].decode()
    return pc.split_pattern(pa.array([joined], _TEXT), ",").flatten()


def _decimal(column: pa.Array, convert: Callable[[Any], Any]) -> pa.Array:
    text = column.cast(_TEXT)  # NaN and ±Infinity are unusual: their per-value text is a string
    unusual = pc.or_(
        pc.invert(pc.match_substring_regex(text, _PLAIN_DECIMAL)),
        pc.match_substring_regex(text, _SMALL_DECIMAL),
    )
    return _patch(text, text, unusual, convert)


def _decimal_string(column: pa.Array, convert: Callable[[Any], Any]) -> pa.Array:
    """Decimals sent as strings: the database's plain digits quoted (other texts per value)."""
    text = column.cast(_TEXT)
    quote = pa.scalar('"', _TEXT)
    fragments = pc.binary_join_element_wise(quote, text, quote, pa.scalar("", _TEXT))
    return _patch(fragments, text, pc.invert(pc.match_substring_regex(text, _PLAIN_DECIMAL)), convert)


def _timestamp(column: pa.Array) -> Parts:
    """``"YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00"``, as ``datetime.isoformat`` of the UTC value."""
    # Arrow's cast of a zone-less timestamp to text is fast ("YYYY-MM-DD HH:MM:SS.ffffff"); the
    # stored values are UTC whatever the zone, so the zone is dropped first.
    naive = column.cast(pa.timestamp("us"), safe=False)
    seconds = naive.cast(pa.timestamp("s"), safe=False)
    whole = pc.equal(naive.cast(pa.int64()), seconds.cast(pa.timestamp("us")).cast(pa.int64()))
    if pc.all(whole).as_py() is not False:  # no fractions anywhere: the seconds' text alone
        text = pc.utf8_replace_slice(seconds.cast(_TEXT), 10, 11, "T")
    else:
        text = pc.utf8_replace_slice(naive.cast(_TEXT), 10, 11, "T")
        text = pc.if_else(whole, pc.utf8_slice_codeunits(text, 0, 19), text)
    return _around(text, '"', '+00:00"')


def _json_document(value: Any) -> Any:
    return loads_exact(value) if isinstance(value, str | bytes) else value


def _bulk(column: pa.Array, kind: str, convert: Callable[[Any], Any] | None) -> Parts | pa.Array | None:
    """The column's JSON text computed column-wise; None when the kind or the driver's type
    needs the per-value route."""
    typ = column.type
    text = pa.types.is_string(typ) or pa.types.is_large_string(typ)
    true, false = pa.scalar("true", _TEXT), pa.scalar("false", _TEXT)
    if kind in (k.INT, k.UINT64, k.BIT) and pa.types.is_integer(typ):
        return column.cast(_TEXT)
    if kind == k.BOOLEAN and pa.types.is_boolean(typ):
        return pc.if_else(column, true, false)
    if kind == k.INT_BOOLEAN and pa.types.is_integer(typ):
        return pc.if_else(pc.not_equal(column, 0), true, false)
    if kind in _STRING_KINDS and text:
        return _quoted(column)
    if kind == k.DECIMAL and convert is not None and text:
        if convert is decimal_text:
            return _decimal_string(column, convert)
        return _decimal(column, convert)
    if kind in (k.FLOAT, k.FLOAT32) and pa.types.is_floating(typ):
        if kind == k.FLOAT32:  # the shortest text of the single-precision value, as the database prints it
            column = column.cast(pa.string()).cast(pa.float64())
        numbers = _orjson_numbers(column)  # NaN and ±Infinity as the texts JSON can carry
        return _patch(numbers, column, pc.invert(pc.is_finite(column)), contract.float_json)
    if kind == k.DATE and pa.types.is_date(typ):
        return _around(column.cast(_TEXT), '"', '"')
    if kind in (k.TIMESTAMP, k.TIMESTAMPTZ) and pa.types.is_timestamp(typ):
        return _timestamp(column)
    if kind == k.JSON:
        return _per_value(column, _json_document)
    return None


def column_parts(column: pa.Array, kind: str, convert: Callable[[Any], Any] | None, where: str = "") -> Parts:
    """JSON text of each value of a raw driver column (``null`` for nulls): column-wise where
    it can be, else (arrays, times, a type a driver hands over unexpectedly) value by value.
    A date, time or timestamp its format cannot carry stops the tap (``temporal_range``)."""
    column = _storage(column)
    check_temporal_range(column, kind, where)
    result = _bulk(column, kind, convert)
    if result is None:
        return "", _per_value(column, convert), ""
    if isinstance(result, tuple):
        before, values, after = result
        return (before, values, after) if before else ("", pc.fill_null(values, _NULL), after)
    return "", pc.fill_null(result, _NULL), ""


class RecordLineEncoder:
    """RECORD lines of one stream: ``encode`` turns a raw driver batch into one block of lines."""

    def __init__(
        self, stream: str, columns: dict[str, k.ColumnKind], emitted: list[str], table: str = ""
    ) -> None:
        self.table = table or stream
        self.columns = columns
        self.emitted = emitted
        self.converters = record_converters(columns)
        prefix = b'{"type":"RECORD","stream":' + orjson.dumps(stream) + b',"record":{'
        self.keys = [
            (prefix if i == 0 else b",") + orjson.dumps(name) + b":" for i, name in enumerate(emitted)
        ]

    def encode(
        self, batch: pa.RecordBatch | pa.Table, version: int | None, extracted: dt.datetime
    ) -> memoryview:
        """The batch's rows as RECORD lines (each ending in a newline), as the per-record path
        writes them: ``{"type":"RECORD","stream":...,"record":{...}[,"version":v],"time_extracted":...}``."""
        tail_fields: dict[str, Any] = {}
        if version is not None:
            tail_fields["version"] = version
        tail_fields["time_extracted"] = extracted
        tail = b"}," + exact_json(tail_fields)[1:] + b"\n"
        if batch.num_rows == 0:
            return memoryview(b"")
        parts: list[Any] = []
        literal = ""  # text between two columns' values: the key, quotes, the tail
        for key, name in zip(self.keys, self.emitted, strict=True):
            column = batch.column(name)
            if isinstance(column, pa.ChunkedArray):
                column = column.combine_chunks()
            kind, convert = self.columns[name].kind, self.converters.get(name)
            before, values, after = column_parts(column, kind, convert, f"{self.table} column {name}")
            parts += [pa.scalar(literal + key.decode() + before, _TEXT), values]
            literal = after
        parts.append(pa.scalar(literal + tail.decode(), _TEXT))
        lines = pc.binary_join_element_wise(*parts, pa.scalar("", _TEXT))
        return _data(lines)


def _data(lines: pa.Array) -> memoryview:
    """The bytes of a large_string array's values, back to back (no copy)."""
    offsets_buffer, data = lines.buffers()[1], lines.buffers()[2]
    assert offsets_buffer is not None and data is not None
    offsets = memoryview(offsets_buffer).cast("q")
    start, end = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return memoryview(data)[start:end]


def write_lines(data: memoryview) -> None:
    """Lines to the tap's standard output, after whatever the message writer left pending."""
    out = sys.stdout
    binary = getattr(out, "buffer", None)
    if binary is None:  # a text stream (tests capture output in a StringIO)
        out.write(bytes(data).decode())
        return
    out.flush()
    binary.write(data)
