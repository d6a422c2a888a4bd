"""Binlog row values → the values a RECORD carries, the same as a snapshot read of the row gives.

pymysqlreplication decodes a row image into Python values that differ from what the SELECT of
the snapshot hands over (a TIME is a timedelta, a TIMESTAMP a naive UTC datetime, a BIT a string
of digits, a FLOAT its single-precision value widened). Each column kind gets the converter that
makes both reads agree, so a row landed by the snapshot and the same row landed by a change are
equal value for value (tests/integration/test_mysql_log_based.py)."""

from __future__ import annotations

import datetime as dt
import re
import struct
import uuid
from collections.abc import Callable
from typing import Any

from dativo_singer.sql import types as k

Converter = Callable[[Any], Any]
_FSP = re.compile(r"\((\d)\)")
_BINARY_LENGTH = re.compile(r"^binary\((\d+)\)")


def _float32(value: Any) -> Any:
    """The shortest decimal that is the same single-precision value, as the database prints it (1.1)."""
    if not isinstance(value, float) or value != value or value in (float("inf"), float("-inf")):
        return value
    single = struct.pack("<f", value)
    for digits in range(6, 10):
        shortest = float(f"{value:.{digits}g}")
        if struct.pack("<f", shortest) == single:
            return shortest
    return value


def _bit(value: Any) -> int:
    return int(value, 2) if isinstance(value, str) else int(value)


def _time_text(fsp: int) -> Converter:
    """A MySQL TIME (a timedelta) as MySQL's own text of it: ``-25:00:01.50``."""

    def convert(value: Any) -> Any:
        if not isinstance(value, dt.timedelta):
            return value
        micros = abs(value // dt.timedelta(microseconds=1))
        seconds, fraction = divmod(micros, 1_000_000)
        sign = "-" if value < dt.timedelta(0) else ""
        text = f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        return text + (f".{fraction:06d}"[: fsp + 1] if fsp else "")

    return convert


def _binary(length: int | None) -> Converter:
    """Bytes (or their Latin-1 text) as lowercase hex; a BINARY(n) padded with zero bytes as stored."""

    def convert(value: Any) -> Any:
        raw = value.encode("latin-1") if isinstance(value, str) else bytes(value)
        if length is not None:
            raw = raw.ljust(length, b"\0")
        return raw.hex()

    return convert


def _uuid(value: Any) -> Any:
    return str(uuid.UUID(bytes=value)) if isinstance(value, bytes) and len(value) == 16 else value


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def _set_text(members: list[str]) -> Converter:
    """A SET's members (a Python set) as MySQL shows them: in definition order, comma-joined."""

    def convert(value: Any) -> Any:
        return ",".join(m for m in members if m in value) if isinstance(value, set) else value

    return convert


def binlog_converters(columns: dict[str, k.ColumnKind]) -> dict[str, Converter]:
    """Column → converter of its binlog value into the value the snapshot's SELECT hands over
    (``dativo_singer.sql.values`` then makes both RECORD values)."""
    converters: dict[str, Converter] = {}
    for name, kind in columns.items():
        text = kind.type_text.lower()
        if kind.kind == k.FLOAT32:
            converters[name] = _float32
        elif kind.kind in (k.BIT, k.INT_BOOLEAN):
            converters[name] = _bit
        elif kind.kind == k.TIME_TEXT:
            match = _FSP.search(text)
            converters[name] = _time_text(int(match.group(1)) if match else 0)
        elif kind.kind == k.BINARY:
            length = _BINARY_LENGTH.match(text)
            converters[name] = _binary(int(length.group(1)) if length else None)
        elif kind.kind == k.UUID:
            converters[name] = _uuid
        elif kind.kind == k.UNMAPPED:
            converters[name] = _text
        elif kind.kind == k.STRING and text.startswith("set("):
            converters[name] = _set_text(re.findall(r"'((?:[^']|'')*)'", kind.type_text))
    return converters


def convert_image(row: dict[str, Any], converters: dict[str, Converter]) -> dict[str, Any]:
    """A row image with its values converted (None stays None)."""
    for name, convert in converters.items():
        value = row.get(name)
        if value is not None:
            row[name] = convert(value)
    return row
