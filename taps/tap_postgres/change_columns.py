"""The fast path of PostgreSQL changes: runs of row changes as Arrow columns, typed per column.

``pgoutput_columns`` gives a run's values as text columns; here the messages it leaves out are
decoded one by one into the same columns (a key change as the old key's delete, then the new
row), and each text column is cast to what the snapshot's driver gives for its kind (integers,
floats, dates, timestamps in UTC, hex text for bytea, the text itself for numeric, JSON, UUID),
so ``arrow_columns.convert_batch`` makes of it what the snapshot's files hold. A value the cast
cannot read exactly (a BC date, ``infinity``) sends its block the RECORD way (psycopg2's casts),
as does a stream with a kind not listed in ``CASTS`` (arrays, times).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from dativo_singer.errors import FatalError
from dativo_singer.sql import types as k
from tap_postgres.pgoutput import UNCHANGED, RowChange, Value, decode
from tap_postgres.pgoutput_columns import Columns

_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


def _as(data_type: pa.DataType) -> Callable[[pa.Array], pa.Array]:
    return lambda column: column.cast(data_type)


def _text(column: pa.Array) -> pa.Array:
    return column


def _boolean(column: pa.Array) -> pa.Array:
    return pc.equal(column, "t")


def _hex(column: pa.Array) -> pa.Array:
    return pc.utf8_slice_codeunits(column, 2)  # bytea's text is \x0a0b


# Each kind's text → the Arrow type the snapshot's driver (ADBC) gives for it.
CASTS: dict[str, Callable[[pa.Array], pa.Array]] = {
    k.INT: _as(pa.int64()),
    k.FLOAT: _as(pa.float64()),
    k.FLOAT32: _as(pa.float64()),
    k.BOOLEAN: _boolean,
    k.DECIMAL: _text,
    k.DECIMAL_TEXT: _text,
    k.STRING: _text,
    k.JSON: _text,
    k.UUID: _text,
    k.UNMAPPED: _text,
    k.BINARY: _hex,
    k.DATE: _as(pa.date32()),
    k.TIMESTAMP: _as(pa.timestamp("us")),
    k.TIMESTAMPTZ: _as(pa.timestamp("us", tz="UTC")),
}


def columnar(kinds: dict[str, k.ColumnKind]) -> bool:
    """True when every column's kind has a cast (the stream's changes can go as columns)."""
    return all(kind.kind in CASTS for kind in kinds.values())


def typed(
    columns: Columns, names: list[str], kinds: dict[str, k.ColumnKind], wanted: list[str]
) -> pa.RecordBatch | None:
    """The ``wanted`` columns of ``columns`` (in the relation's ``names``) cast per kind; None
    when a value does not cast (the caller writes the block the RECORD way)."""
    place = {name: i for i, name in enumerate(names)}
    arrays, fields = [], []
    for name in wanted:
        kind = kinds[name]
        if name in place:
            try:
                array = CASTS[kind.kind](columns.arrays[place[name]])
            except _ERRORS:
                return None
        else:  # a column the source dropped: null from then on
            array = pa.nulls(columns.num_rows)
        arrays.append(array)
        fields.append(pa.field(name, array.type))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def text_rows(columns: Columns, start: int = 0, stop: int | None = None) -> list[tuple[bool, list[Value]]]:
    """(deleted, values) of rows ``start`` to ``stop``: a block the RECORD way."""
    count = (columns.num_rows if stop is None else stop) - start
    values = [array.slice(start, count).to_pylist() for array in columns.arrays]
    deleted = columns.deleted.slice(start, count).to_pylist()
    return [(bool(d), [column[i] for column in values]) for i, d in enumerate(deleted)]


def decode_one_by_one(messages: Sequence[bytes], names: list[str], keys: list[str], table: str) -> Columns:
    """Messages the vector walk left out, decoded one by one into text columns."""
    key_places = [names.index(key) for key in keys if key in names]
    rows: list[list[Value]] = []
    deleted: list[bool] = []
    for data in messages:
        change = decode(data)
        assert isinstance(change, RowChange)
        if change.op == "delete":
            assert change.old is not None
            rows.append([None if value is UNCHANGED else value for value in change.old])
            deleted.append(True)
            continue
        assert change.new is not None
        new, old = list(change.new), change.old
        for index, value in enumerate(new):
            if value is UNCHANGED:
                kept = old[index] if old is not None and index < len(old) else UNCHANGED
                if kept is UNCHANGED:
                    raise FatalError(
                        f"{table}: column {names[index]!r} holds a large (TOASTed) value an update left "
                        f"unchanged, which the log does not carry; ALTER TABLE {table} REPLICA IDENTITY FULL"
                    )
                new[index] = kept
        if old is not None and any(old[i] is not None and old[i] != new[i] for i in key_places):
            rows.append(old)  # the key changed: the old key's delete first
            deleted.append(True)
        rows.append(new)
        deleted.append(False)
    arrays = [
        pa.array([row[i] if i < len(row) else None for row in rows], pa.string()) for i in range(len(names))
    ]
    return Columns(arrays, pa.array(deleted, pa.bool_()))
