"""A batch of Singer records → one Arrow table in the Iceberg table's schema."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa

from dativo_singer.errors import FatalError


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def _to_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def _to_timestamp(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _to_date(value: Any) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


def _column(values: list[Any], arrow: pa.DataType) -> pa.Array:
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return pa.array([_json_text(v) for v in values], type=arrow)
    if pa.types.is_floating(arrow):
        return pa.array([_to_float(v) for v in values], type=arrow)
    if pa.types.is_decimal(arrow):
        return pa.array([_to_decimal(v) for v in values], type=arrow)
    if pa.types.is_timestamp(arrow):
        return pa.array([_to_timestamp(v) for v in values], type=arrow)
    if pa.types.is_date(arrow):
        return pa.array([_to_date(v) for v in values], type=arrow)
    return pa.array(values, type=arrow)


def records_to_table(records: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Build an Arrow table with exactly ``schema``'s columns; absent values become null."""
    arrays = []
    for field in schema:
        values = [record.get(field.name) for record in records]
        try:
            array = _column(values, field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, TypeError) as exc:
            raise FatalError(f"column {field.name!r}: {exc}") from None
        if not field.nullable and array.null_count:
            raise FatalError(f"column {field.name!r} is required but {array.null_count} rows are null")
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=schema)
