"""Fast path: a driver's Arrow record batch → the stream's Arrow schema, column by column.

The result holds what the RECORD path would have landed: decimals from their exact text (a NaN
or ±Infinity makes the column text, and the target rejects those rows), floats' NaN and
±Infinity as IEEE values, single-precision floats by their shortest text (as the database prints
them), timestamps in UTC, MySQL tinyint(1)/bit(1) as booleans. JSON and array values become the
same compact JSON text the target makes of a RECORD's value, in a string column marked
``dativo.json: text`` (see ``RecordConverter.convert_table``). A column that does not cast to its
declared type is passed as text, so the target rejects the rows it cannot write with their
reason, as it would RECORDs.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dativo_singer.arrow_types import arrow_type
from dativo_singer.conversion import JSON_TEXT_KEY, JSON_TEXT_VALUE
from dativo_singer.exact_json import exact_json, loads_exact
from dativo_singer.sql import types as k
from dativo_singer.sql.temporal_range import check_temporal_range

_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)


def stream_arrow_schema(properties: dict[str, Any], columns: dict[str, k.ColumnKind]) -> pa.Schema:
    """The Arrow schema batches are written in: each selected column's declared type; JSON and
    array columns as marked JSON text."""
    fields = []
    for name, kind in columns.items():
        if kind.kind in (k.JSON, k.ARRAY):
            fields.append(pa.field(name, pa.string(), metadata={JSON_TEXT_KEY: JSON_TEXT_VALUE}))
        else:
            fields.append(pa.field(name, arrow_type(properties.get(name, {}))))
    return pa.schema(fields)


def _storage(column: pa.Array) -> pa.Array:
    return column.storage if isinstance(column.type, pa.ExtensionType) else column


def _json_text(column: pa.Array, parse: bool) -> pa.Array:
    """Compact JSON text of each value; a JSON ``null`` is a null (a RECORD cannot tell them
    apart)."""
    texts = []
    for value in column.to_pylist():
        decoded = loads_exact(value) if parse and value is not None else value
        texts.append(None if decoded is None else exact_json(decoded).decode())
    return pa.array(texts, pa.string())


def _prepare(column: pa.Array, kind: str) -> pa.Array:
    """Kind-specific normalisation before the cast to the declared type."""
    if kind == k.DECIMAL:
        if pa.types.is_decimal(_storage(column).type):  # never NaN or infinite; cast exactly
            return _storage(column)
        # NaN and ±Infinity fail the cast: the column goes as text and the target rejects them
        return _storage(column).cast(pa.string())
    if kind == k.FLOAT32:
        column = column.cast(pa.string()).cast(pa.float64())
    if kind in (k.FLOAT, k.FLOAT32):
        return column.cast(pa.float64())  # NaN and ±Infinity stay IEEE values
    if kind == k.INT_BOOLEAN:
        return pc.not_equal(column.cast(pa.int64()), 0)
    if kind == k.TIMESTAMP or kind == k.TIMESTAMPTZ:
        if pa.types.is_timestamp(column.type) and column.type.tz is None:
            # Values taken as UTC: the cast only attaches the zone (what assume_timezone("UTC")
            # gives, without its per-value time-zone arithmetic).
            column = column.cast(pa.timestamp(column.type.unit, tz="UTC"))
        return column
    if kind == k.UINT64 and pa.types.is_unsigned_integer(column.type):
        return column
    return _storage(column)


def convert_batch(
    batch: pa.RecordBatch, schema: pa.Schema, columns: dict[str, k.ColumnKind], table: str = ""
) -> pa.Table:
    """One driver batch in ``schema`` (see module docstring); a date, time or timestamp outside
    what its format carries stops the tap, as on the RECORD path."""
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    for field in schema:
        column = batch.column(field.name)
        kind = columns[field.name].kind
        check_temporal_range(_storage(column), kind, f"{table} column {field.name}")
        if kind in (k.JSON, k.ARRAY):
            arrays.append(_json_text(_storage(column), parse=kind == k.JSON))
            fields.append(field)
            continue
        prepared = _prepare(column, kind)
        try:
            arrays.append(prepared.cast(field.type))
            fields.append(field)
        except _ERRORS:
            arrays.append(prepared.cast(pa.string()))
            fields.append(pa.field(field.name, pa.string()))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
