"""Dates, times and timestamps the declared JSON Schema formats can carry.

``date``, ``date-time`` and ``time`` values are ISO 8601 texts with years 0001 to 9999 and times
of day below 24:00 (what Python, and so every singer-sdk peer, parses). A database holds more:
PostgreSQL's ``infinity`` / ``-infinity``, dates before Christ and years up to 294276, and
``24:00:00``. The Arrow readers hand those over as numbers outside that range, which no text in
the declared format represents: the tap stops naming the column rather than send one.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc

from dativo_singer.errors import FatalError
from dativo_singer.sql import types as k

_EPOCH = dt.date(1970, 1, 1)
_FIRST_DAY = (dt.date(1, 1, 1) - _EPOCH).days
_LAST_DAY = (dt.date(9999, 12, 31) - _EPOCH).days
_UNIT_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_DAY_SECONDS = 86_400
_FORMATS = {k.DATE: "date", k.TIME: "time", k.TIMESTAMP: "date-time", k.TIMESTAMPTZ: "date-time"}


def _bounds(typ: pa.DataType) -> tuple[int, int] | None:
    """Inclusive bounds of the storage integers of a temporal Arrow type that fit its format."""
    if pa.types.is_date32(typ):
        return _FIRST_DAY, _LAST_DAY
    if pa.types.is_date64(typ):
        return _FIRST_DAY * _DAY_SECONDS * 1000, (_LAST_DAY + 1) * _DAY_SECONDS * 1000 - 1
    if pa.types.is_timestamp(typ):
        per_second = _UNIT_PER_SECOND[typ.unit]
        return _FIRST_DAY * _DAY_SECONDS * per_second, (_LAST_DAY + 1) * _DAY_SECONDS * per_second - 1
    if pa.types.is_time(typ):
        return 0, _DAY_SECONDS * _UNIT_PER_SECOND[typ.unit] - 1
    return None


def check_temporal_range(column: pa.Array, kind: str, where: str) -> None:
    """Raise a one-line error when a date/time/timestamp column holds a value its format cannot
    carry (``where`` names the column: ``schema.table column c``)."""
    declared = _FORMATS.get(kind)
    bounds = _bounds(column.type)
    if declared is None or bounds is None or len(column) == column.null_count:
        return
    width = pa.int32() if pa.types.is_date32(column.type) or column.type.bit_width == 32 else pa.int64()
    numbers = column.view(width)
    low, high = pc.min_max(numbers).values()
    if low.as_py() >= bounds[0] and high.as_py() <= bounds[1]:
        return
    limits = "00:00:00 to 23:59:59.999999" if kind == k.TIME else "years 0001 to 9999"
    raise FatalError(
        f"{where}: a value outside {limits} (such as infinity, a date before Christ or 24:00:00) "
        f"has no JSON Schema '{declared}' form; read the column through a view that casts it to "
        "text, or leave such rows out"
    )
