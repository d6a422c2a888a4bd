"""Row images of WRITE/UPDATE/DELETE_ROWS events decoded straight from the event's bytes.

pymysqlreplication decodes a row image value by value through a chain of Python calls (a null
bit, a type dispatch, a packet read and a ``struct.unpack`` each). Here each table map's column
layout is compiled once into one Python function that reads a whole image from the packet's
bytes: one null bitmap, then each column by its offset, building the row dict in one expression.
The values are exactly the library's (tests/integration/test_row_images.py compares both on every
handled type); a table with a column type not handled here, a partial JSON update or a row image
that is not whole (binlog_row_image below FULL) is decoded by the library as before.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable, Sequence
from datetime import timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any

from pymysqlreplication.constants import BINLOG, FIELD_TYPE
from pymysqlreplication.json_binary import parse_json
from pymysqlreplication.row_event import RowsEvent, UpdateRowsEvent

Image = dict[str, Any]
ImageReader = Callable[[bytes, int], tuple[Image, int]]
_COMPRESSED = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)
_INTS = {
    FIELD_TYPE.TINY: ("<b", "<B", 1),
    FIELD_TYPE.SHORT: ("<h", "<H", 2),
    FIELD_TYPE.LONG: ("<i", "<I", 4),
    FIELD_TYPE.LONGLONG: ("<q", "<Q", 8),
    FIELD_TYPE.FLOAT: ("<f", "<f", 4),
    FIELD_TYPE.DOUBLE: ("<d", "<d", 8),
}
_EPOCH = dt.datetime(1970, 1, 1)
_FSP_BYTES = (0, 1, 1, 2, 2, 3, 3)
_readers: dict[tuple[Any, ...], ImageReader | None] = {}


def _fsp(fsp: int) -> tuple[int, Callable[[bytes], int]]:
    """(bytes, bytes → microseconds) of a fractional-seconds part, as the library reads it."""
    size, scale = _FSP_BYTES[fsp], 10 ** (6 - fsp)
    if fsp % 2:
        return size, lambda raw: int(int.from_bytes(raw, "big", signed=True) / 10) * scale
    return size, lambda raw: int.from_bytes(raw, "big", signed=True) * scale


def _decimal_groups(precision: int, decimals: int) -> list[tuple[int, int]]:
    """(bytes, 10 ** digits) of each digit group of a packed DECIMAL, first to last."""
    integral = precision - decimals
    whole, fraction = integral // 9, decimals // 9
    lead, tail = integral - whole * 9, decimals - fraction * 9
    sizes = [(_COMPRESSED[lead], 10**lead)] + [(4, 10**9)] * (whole + fraction)
    return [*sizes, (_COMPRESSED[tail], 10**tail)]


def _decimal_code(i: int, precision: int, decimals: int) -> list[str]:
    """Statements reading a DECIMAL(precision, decimals) in MySQL's packed form: groups of nine
    digits in four bytes, the first and last groups' fewer digits in fewer bytes, the sign in the
    top bit, a negative number's bytes inverted. The library's text of it is
    ``-<integral>.<fraction>``; the same Decimal (digits and exponent) is ``-<digits>E-<scale>``."""
    sizes = _decimal_groups(precision, decimals)
    size = sum(width for width, _ in sizes)
    digits, shift = "0", size * 8
    for width, factor in sizes:
        if width:
            shift -= width * 8
            digits = f"({digits}) * {factor} + (n >> {shift} & {(1 << width * 8) - 1})"
    sign, every = 1 << (size * 8 - 1), (1 << size * 8) - 1
    return [
        f"n = from_bytes(d[p : p + {size}], 'big') ^ {sign}",
        f"p += {size}",
        f"if n & {sign}:",
        f"    n ^= {every}",
        f"    v{i} = Decimal('-' + str({digits}) + 'E-{decimals}')",
        "else:",
        f"    v{i} = Decimal(str({digits}) + 'E-{decimals}')",
    ]


def _timestamp2_code(i: int, fsp: int) -> list[str]:
    """Statements reading a TIMESTAMP2: seconds since the epoch (big-endian), then the fraction."""
    size, scale = _FSP_BYTES[fsp], 10 ** (6 - fsp)
    code = ["n = from_bytes(d[p : p + 4], 'big', signed=True)"]
    if not size:
        return [*code, f"v{i} = EPOCH + timedelta(0, n)", "p += 4"]
    fraction = f"from_bytes(d[p + 4 : p + {4 + size}], 'big', signed=True)"
    fraction = f"int({fraction} / 10) * {scale}" if fsp % 2 else f"{fraction} * {scale}"
    return [*code, f"f = {fraction}", f"p += {4 + size}",
            f"v{i} = EPOCH + timedelta(0, n, f) if 0 <= f < 1000000 else timestamp2(n, f)"]  # fmt: skip


def _date(raw: bytes) -> dt.date | None:
    value = int.from_bytes(raw, "little")
    year, month, day = value >> 9 & 0x7FFF, value >> 5 & 0xF, value & 0x1F
    return dt.date(year, month, day) if year and month and day else None


def _datetime2(micros: Callable[[bytes], int]) -> Callable[[bytes], dt.datetime | None]:
    def read(raw: bytes) -> dt.datetime | None:
        data = int.from_bytes(raw[:5], "big")
        year_month = data >> 22 & 0x1FFFF
        fraction = micros(raw[5:])
        exact = 0 <= fraction < 1_000_000
        try:
            value = dt.datetime(year_month // 13, year_month % 13, data >> 17 & 0x1F, data >> 12 & 0x1F,
                                data >> 6 & 0x3F, data & 0x3F, fraction if exact else 0)  # fmt: skip
        except ValueError:  # a zero date, as the library reads it
            return None
        return value if exact or fraction <= 0 else value.replace(microsecond=fraction)

    return read


def _timestamp2(seconds: int, fraction: int) -> dt.datetime:
    """A TIMESTAMP2 whose fraction is not a microsecond, as the library reads it."""
    value = _EPOCH + timedelta(0, seconds)
    return value.replace(microsecond=fraction) if fraction > 0 else value


def _time2(micros: Callable[[bytes], int]) -> Callable[[bytes], dt.timedelta]:
    def read(raw: bytes) -> dt.timedelta:
        data = int.from_bytes(raw[:3], "big", signed=True)
        sign = 1 if data >> 23 & 1 else -1
        if sign == -1:
            data = ~data + 1
        value = dt.timedelta(hours=data >> 12 & 0x3FF, minutes=data >> 6 & 0x3F, seconds=data & 0x3F,
                             microseconds=micros(raw[3:]))  # fmt: skip
        return value * sign

    return read


def _bit(bits: int, size: int) -> Callable[[bytes], str]:
    """BIT(n) as the library gives it: a string of binary digits, the first byte's used bits only."""

    def read(raw: bytes) -> str:
        first = bits if size == 1 else (bits % 8 or 8)
        text = format(raw[0], "08b")[8 - first :]
        return text + "".join(format(byte, "08b") for byte in raw[1:])

    return read


def _column_code(i: int, column: Any, consts: dict[str, Any], errors: str) -> list[str] | None:
    """Statements that read column ``i`` at ``p`` of ``d`` into ``v{i}`` and advance ``p``."""
    kind = column.type
    if kind in _INTS:
        signed, unsigned, size = _INTS[kind]
        consts[f"u{i}"] = struct.Struct(unsigned if column.unsigned else signed).unpack_from
        return [f"v{i} = u{i}(d, p)[0]", f"p += {size}"]
    if kind == FIELD_TYPE.INT24:
        return [f"v{i} = from_bytes(d[p : p + 3], 'little', signed={not column.unsigned})", "p += 3"]
    if kind == FIELD_TYPE.YEAR:
        return [f"v{i} = d[p] + 1900", "p += 1"]
    if kind in (FIELD_TYPE.VARCHAR, FIELD_TYPE.STRING, FIELD_TYPE.BLOB):
        width = column.length_size if kind == FIELD_TYPE.BLOB else (2 if column.max_length > 255 else 1)
        length = "d[p]" if width == 1 else f"from_bytes(d[p : p + {width}], 'little')"
        code = [f"n = {length}", f"p += {width}", f"v{i} = d[p : p + n]"]
        if column.character_set_name is None:
            code.append(f"v{i} = v{i}.decode('utf-8', {errors!r})")
        else:
            encoding = RowsEvent.charset_to_encoding(column.character_set_name)
            try:
                b"".decode(encoding)
            except LookupError:  # an encoding Python lacks: the bytes, as the library leaves them
                encoding = None
            if encoding is not None:
                code.append(f"v{i} = v{i}.decode({encoding!r}, {errors!r})")
        return [*code, "p += n"]
    if kind == FIELD_TYPE.JSON:
        consts["parse_json"] = parse_json
        return [f"n = from_bytes(d[p : p + {column.length_size}], 'little')", f"p += {column.length_size}",
                f"v{i} = parse_json(d[p], d[p + 1 : p + n]) if n else None", "p += n"]  # fmt: skip
    if kind in (FIELD_TYPE.ENUM, FIELD_TYPE.SET):
        code = [f"n = from_bytes(d[p : p + {column.size}], 'little')", f"p += {column.size}"]
        if kind == FIELD_TYPE.ENUM:
            consts[f"e{i}"] = column.enum_values
            return [*code, f"v{i} = e{i}[n] if e{i} else None"]
        consts[f"e{i}"] = list(enumerate(column.set_values or []))
        return [*code, f"v{i} = {{m for b, m in e{i} if n & 1 << b}} or None"]
    if kind == FIELD_TYPE.NEWDECIMAL:
        return _decimal_code(i, column.precision, column.decimals)
    if kind == FIELD_TYPE.TIMESTAMP2:
        consts.update(EPOCH=_EPOCH, timedelta=timedelta, timestamp2=_timestamp2)
        return _timestamp2_code(i, column.fsp)
    size, read = _reader(column)
    if read is None:
        return None
    consts[f"r{i}"] = read
    return [f"v{i} = r{i}(d[p : p + {size}])", f"p += {size}"]


def _skip_code(column: Any) -> list[str] | None:
    """Statements that step ``p`` over a column's value without reading it."""
    kind = column.type
    if kind in (FIELD_TYPE.VARCHAR, FIELD_TYPE.STRING, FIELD_TYPE.BLOB, FIELD_TYPE.JSON):
        width = (
            column.length_size
            if kind in (FIELD_TYPE.BLOB, FIELD_TYPE.JSON)
            else 1 + (column.max_length > 255)
        )
        return [f"p += {width} + " + ("d[p]" if width == 1 else f"from_bytes(d[p : p + {width}], 'little')")]
    if kind in _INTS:
        size = _INTS[kind][2]
    elif kind in (FIELD_TYPE.INT24, FIELD_TYPE.YEAR):
        size = 3 if kind == FIELD_TYPE.INT24 else 1
    elif kind in (FIELD_TYPE.ENUM, FIELD_TYPE.SET):
        size = column.size
    elif kind == FIELD_TYPE.NEWDECIMAL:
        size = sum(width for width, _ in _decimal_groups(column.precision, column.decimals))
    elif kind == FIELD_TYPE.TIMESTAMP2:
        size = 4 + _FSP_BYTES[column.fsp]
    else:
        size, read = _reader(column)
        if read is None:
            return None
    return [f"p += {size}"]


def _reader(column: Any) -> tuple[int, Callable[[bytes], Any] | None]:
    """(size, bytes → value) of a fixed-size column read by a helper; None when not handled."""
    kind = column.type
    if kind == FIELD_TYPE.DATE:
        return 3, _date
    if kind == FIELD_TYPE.BIT:
        return column.bytes, _bit(column.bits, column.bytes)
    if kind in (FIELD_TYPE.DATETIME2, FIELD_TYPE.TIME2):
        size, micros = _fsp(column.fsp)
        if kind == FIELD_TYPE.DATETIME2:
            return 5 + size, _datetime2(micros)
        return 3 + size, _time2(micros)
    return 0, None


def _signature(columns: list[Any], errors: str) -> tuple[Any, ...]:
    return (errors, *(tuple(sorted((key, str(value)) for key, value in c.data.items())) for c in columns))


def compile_reader(
    columns: list[Any], errors: str = "strict", only: frozenset[str] | None = None
) -> ImageReader | None:
    """The reader of one whole row image of a table with these table-map columns (names, types,
    metadata, signedness, character sets as set on them), or None when a type is not handled;
    given ``only``, the image's other columns are stepped over, and the row holds those alone."""
    if not all(isinstance(column.name, str) for column in columns):
        return None
    key = (only, *_signature(columns, errors))
    if key in _readers:
        return _readers[key]
    consts: dict[str, Any] = {"from_bytes": int.from_bytes, "Decimal": Decimal}
    width = (len(columns) + 7) // 8
    body = [f"nulls = from_bytes(d[p : p + {width}], 'little')", f"p += {width}"]
    reader: ImageReader | None = None
    for i, column in enumerate(columns):
        if only is not None and column.name not in only:
            code = _skip_code(column)
            if code is None:
                break
            body += [f"if not nulls & {1 << i}:", *(f"    {line}" for line in code)]
            continue
        code = _column_code(i, column, consts, errors)
        if code is None:
            break
        body += [f"if nulls & {1 << i}:", f"    v{i} = None", "else:", *(f"    {line}" for line in code)]
    else:
        kept = [(i, column) for i, column in enumerate(columns) if only is None or column.name in only]
        names = ", ".join(f"{column.name!r}: v{i}" for i, column in kept)
        body.append(f"return {{{names}}}, p")
        source = "def read(d, p):\n" + "".join(f"    {line}\n" for line in body)
        exec(compile(source, "<row image>", "exec"), consts)  # code made from the table map only
        reader = consts["read"]
    _readers[key] = reader
    return reader


def fast_rows(event: Any, keys: Sequence[str] = ()) -> list[Any] | None:
    """The row images of a WRITE or DELETE_ROWS event (an UPDATE_ROWS event: (before, after)
    pairs), read from its bytes; None when the library must decode them. Given the table's
    ``keys``, an update's before image holds only them unless the update changed one."""
    if event.event_type == BINLOG.PARTIAL_UPDATE_ROWS_EVENT or not event.complete:
        return None
    columns = event.columns
    whole = ((1 << len(columns)) - 1).to_bytes((len(columns) + 7) // 8, "little")
    update = isinstance(event, UpdateRowsEvent)
    if event.columns_present_bitmap != whole or (update and event.columns_present_bitmap2 != whole):
        return None
    wrapper = event.packet
    packet = wrapper.packet
    if wrapper._BinLogPacketWrapper__data_buffer or packet._position - 20 != wrapper.read_bytes:
        return None
    read, read_keys = _readers_of(event, tuple(keys))
    if read is None:
        return None
    data, at, end = packet._data, packet._position, 20 + event.event_size
    rows: list[Any] = []
    append = rows.append
    if update and read_keys is not None:
        key_of = itemgetter(*keys)
        while at < end:
            start = at
            before, at = read_keys(data, at)
            after, at = read(data, at)
            if key_of(before) != key_of(after):
                before = read(data, start)[0]  # the key moved: the whole old row
            append((before, after))
    elif update:
        while at < end:
            before, at = read(data, at)
            after, at = read(data, at)
            append((before, after))
    else:
        while at < end:
            row, at = read(data, at)
            append(row)
    return rows


def _readers_of(event: Any, keys: tuple[str, ...]) -> tuple[ImageReader | None, ImageReader | None]:
    """The event's whole-image reader and its key reader (None without keys), kept on the event's
    table map (made once per table map event, its columns described before its row events)."""
    table = event.table_map.get(event.table_id)
    cache: dict[Any, Any] = vars(table).setdefault("_dativo_readers", {}) if table is not None else {}
    errors = "ignore" if event._ignore_decode_errors else "strict"
    found = cache.get((errors, keys))
    if found is None:
        read = compile_reader(event.columns, errors)
        names = {column.name for column in event.columns}
        read_keys = (
            compile_reader(event.columns, errors, frozenset(keys))
            if keys and names.issuperset(keys)
            else None
        )
        found = cache[(errors, keys)] = (read, read_keys)
    return found
