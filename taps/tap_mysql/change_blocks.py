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
# Each kind → the Arrow type its binlog values are held in (None: a decimal, its scale inferred).
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
    return all(kind.kind in TYPES and not kind.decimal_as_string for kind in kinds.values())


def block(rows: list[dict[str, Any]], kinds: dict[str, k.ColumnKind]) -> pa.RecordBatch | None:
    """The rows as one column per stream column; None when a value does not fit its column's
    type (the caller writes the rows as RECORDs)."""
    arrays, fields = [], []
    for name, kind in kinds.items():
        data_type = TYPES[kind.kind]
        try:
            values = list(map(itemgetter(name), rows))
        except KeyError:  # a column the image lacks (added to the stream later): null
            values = [row.get(name) for row in rows]
        try:
            array = pa.array(values) if data_type is None else pa.array(values, data_type)
        except _ERRORS:
            return None
        if data_type is None and not (pa.types.is_decimal(array.type) or pa.types.is_null(array.type)):
            return None
        arrays.append(array)
        fields.append(pa.field(name, array.type))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
