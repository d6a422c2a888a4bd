"""The fast path of MariaDB/MySQL changes: a transaction's row images as one block of Arrow columns.

The row images (``row_images``, then ``binlog_values``: the values a snapshot's SELECT gives)
of a transaction become one Arrow column per stream column, in the order of the changes (a key
change as the old key's delete row, then the new row), and go to the writer's ``add_block``
(docs/CDC.md, "Changes on the fast path"): ``arrow_columns.convert_batch`` then makes of them
what the snapshot's files hold. A stream with a column kind not listed in ``TYPES`` (binary,
bit, time, single-precision float, UUID, a decimal wider than Arrow's) keeps the RECORD path, as
does a transaction a value of which the column type does not take.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import pyarrow as pa

from dativo_singer.sql import types as k

_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError, TypeError)
# Each kind → the Arrow type its binlog values are held in (a decimal: its own DECIMAL(p, s)).
TYPES: dict[str, pa.DataType | None] = {
    k.INT: pa.int64(),
    k.UINT64: pa.uint64(),
    k.INT_BOOLEAN: pa.int64(),
    k.FLOAT: pa.float64(),
    k.DECIMAL: None,
    k.STRING: pa.string(),
    k.JSON: pa.string(),
    k.DATE: pa.date32(),
    k.TIMESTAMP: pa.timestamp("us"),
    k.TIMESTAMPTZ: pa.timestamp("us"),
}


def columnar(kinds: dict[str, k.ColumnKind]) -> bool:
    """True when every column's kind has an Arrow type here (the changes can go as columns)."""
    return all(
        kind.kind in TYPES and (kind.kind != k.DECIMAL or _decimal_type(kind) is not None)
        for kind in kinds.values()
    )


def _decimal_type(kind: k.ColumnKind) -> pa.DataType | None:
    """The column's own DECIMAL(p, s), so every block of a stream has one schema; None beyond
    Arrow's 38 digits or a decimal sent as text."""
    if kind.decimal_as_string or kind.precision is None or not 0 < kind.precision <= 38:
        return None
    return pa.decimal128(kind.precision, kind.scale or 0)


def block(rows: list[dict[str, Any]], kinds: dict[str, k.ColumnKind]) -> pa.RecordBatch | None:
    """The rows as one column per stream column; None when a value does not fit its column's
    type (the caller writes the rows as RECORDs)."""
    arrays, fields = [], []
    for name, kind in kinds.items():
        data_type = _decimal_type(kind) if kind.kind == k.DECIMAL else TYPES[kind.kind]
        try:
            values = list(map(itemgetter(name), rows))
        except KeyError:  # a column the image lacks (added to the stream later): null
            values = [row.get(name) for row in rows]
        try:
            array = pa.array(values, data_type)
        except _ERRORS:
            return None
        arrays.append(array)
        fields.append(pa.field(name, array.type))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
