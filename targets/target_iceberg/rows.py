"""Row-level helpers of a commit: the last row per key, a key filter, the columns a commit
needs from its batch and from the BATCH files kept as they are."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import And, BooleanExpression, EqualTo, In, Or

from dativo_singer.batch_files import KeptFile

_ROW = "__dativo_row"


def latest_per_key(data: pa.Table, keys: list[str]) -> pa.Table:
    """Keep the last row of each key (later records win inside one batch)."""
    if not keys or data.num_rows < 2:
        return data
    numbered = data.append_column(_ROW, pa.array(range(data.num_rows), pa.int64()))
    last = numbered.group_by(keys, use_threads=False).aggregate([(_ROW, "max")])
    indices = pc.sort_indices(last.column(f"{_ROW}_max"))
    keep = pc.take(last.column(f"{_ROW}_max"), indices)
    return data.take(keep) if len(keep) != data.num_rows else data


def columns_of(data: pa.Table | None, files: Sequence[KeptFile], names: list[str]) -> pa.Table | None:
    """``names`` of ``data`` and of the kept files' columns, concatenated (None: none has them)."""
    parts = [data.select(names)] if data is not None and set(names) <= set(data.column_names) else []
    for file in files:
        if file.columns is not None and set(names) <= set(file.columns.column_names):
            parts.append(file.columns.select(names))
    if not parts or not names:
        return None
    # The rewritten batch holds the table's types (large strings from pyiceberg), a kept file
    # its own (strings): one schema for all, the first part's.
    schema = parts[0].schema
    return pa.concat_tables([part.cast(schema) if part.schema != schema else part for part in parts])


class RunKeys:
    """The primary keys one run committed to a table it appends to, to find rows repeating a
    key committed earlier in the run (the later row wins: docs/ICEBERG_TARGET.md)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self._seen: pa.Table | None = None
        self._highest: Any = None  # of one orderable key column: batches above it repeat nothing

    def repeated(self, keys: pa.Table) -> pa.Table:
        """The distinct keys of ``keys`` already seen, then remember all of ``keys``."""
        keys = keys.select(self.names)
        if self._seen is not None:
            keys = keys.cast(self._seen.schema) if keys.schema != self._seen.schema else keys
        above = self._above_all_seen(keys)
        if self._seen is None or above:
            self._seen = keys if self._seen is None else pa.concat_tables([self._seen, keys])
            return keys.slice(0, 0)
        # The batch's keys are the join's hashed side; the run's keys (growing) only probe it.
        found = self._seen.join(keys, keys=self.names, join_type="right semi", use_threads=False)
        self._seen = pa.concat_tables([self._seen, keys])
        return found.group_by(self.names, use_threads=False).aggregate([])

    def _above_all_seen(self, keys: pa.Table) -> bool:
        """True when every key of ``keys`` (one integer or text column) is above every key seen
        before (ids read in order): no join needed. Keeps the highest key seen up to date; a
        null key never equals another, as in the join."""
        if len(self.names) != 1:
            return False
        column = keys.column(0)
        kind = column.type
        if not (pa.types.is_integer(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            return False
        bounds = pc.min_max(column)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if low is None:  # only nulls
            return self._seen is not None and self._highest is not None
        above = self._seen is not None and self._highest is not None and low > self._highest
        if self._seen is None or self._highest is not None:
            self._highest = high if self._highest is None else max(self._highest, high)
        return above


def _equal(column: str, value: Any) -> BooleanExpression:
    return EqualTo(column, value)  # type: ignore[call-arg, arg-type]  # pydantic-typed __init__


def _both(left: BooleanExpression, right: BooleanExpression) -> BooleanExpression:
    return And(left, right)


def _either(left: BooleanExpression, right: BooleanExpression) -> BooleanExpression:
    return Or(left, right)


def key_filter(data: pa.Table, keys: list[str]) -> BooleanExpression:
    """A filter matching the rows of ``data`` by key (``In`` for one key column)."""
    if len(keys) == 1:
        values = pc.unique(data.column(keys[0])).to_pylist()
        return In(keys[0], values)  # type: ignore[call-arg, arg-type]  # pydantic-typed __init__
    rows = data.select(keys).to_pylist()
    terms = [functools.reduce(_both, (_equal(k, row[k]) for k in keys)) for row in rows]
    return functools.reduce(_either, terms)
