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
    """``names`` of ``data`` and of the kept files' columns (or their distinct ``versions``),
    concatenated (None: none has them)."""
    parts = [data.select(names)] if data is not None and set(names) <= set(data.column_names) else []
    for file in files:
        for table in (file.columns, file.versions):
            if table is not None and set(names) <= set(table.column_names):
                parts.append(table.select(names))
                break
    if not parts or not names:
        return None
    # The rewritten batch holds the table's types (large strings from pyiceberg), a kept file
    # its own (strings): one schema for all, the first part's.
    schema = parts[0].schema
    return pa.concat_tables([part.cast(schema) if part.schema != schema else part for part in parts])


class RunKeys:
    """The primary keys one run committed to a table it appends to, to find rows repeating a
    key committed earlier in the run (the later row wins: docs/ICEBERG_TARGET.md).

    A batch of one integer key whose values are consecutive and increasing (ids read in order)
    is held as its range, not its values: the memory of a run reading ids in order stays flat
    however many rows it appends."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self._schema: pa.Schema | None = None
        self._ranges: list[tuple[int, int]] = []  # consecutive integer keys seen: [low, high]
        self._tables: list[pa.Table] = []  # the other keys seen
        self._highest: Any = None  # of one orderable key column: batches above it repeat nothing

    @property
    def held_keys(self) -> int:
        """Key values held in memory (the ranges aside)."""
        return sum(table.num_rows for table in self._tables)

    def repeated(self, keys: pa.Table) -> pa.Table:
        """The distinct keys of ``keys`` already seen, then remember all of ``keys``."""
        keys = keys.select(self.names)
        first = self._schema is None
        if self._schema is not None and keys.schema != self._schema:
            keys = keys.cast(self._schema)
        self._schema = self._schema or keys.schema
        above = self._above_all_seen(keys, first)
        found = keys.slice(0, 0) if first or above else self._seen_of(keys)
        self._remember(keys)
        return found

    def _seen_of(self, keys: pa.Table) -> pa.Table:
        """The distinct keys of ``keys`` seen before (a null key never equals another)."""
        parts = []
        if self._tables:
            # The batch's keys are the join's hashed side; the run's keys only probe it.
            seen = pa.concat_tables(self._tables)
            parts.append(seen.join(keys, keys=self.names, join_type="right semi", use_threads=False))
        for low, high in self._ranges:
            column = keys.column(0)
            inside = pc.and_(pc.greater_equal(column, low), pc.less_equal(column, high))
            parts.append(keys.filter(inside))
        # The join drops a not-null flag the batch's schema has: one schema for all parts.
        found = pa.concat_tables([p.cast(keys.schema) for p in parts]) if parts else keys.slice(0, 0)
        return found.group_by(self.names, use_threads=False).aggregate([])

    def _remember(self, keys: pa.Table) -> None:
        span = _consecutive(keys)
        if span is None:
            if keys.num_rows:
                self._tables.append(keys)
            return
        low, high = span
        if self._ranges and self._ranges[-1][1] + 1 == low:
            self._ranges[-1] = (self._ranges[-1][0], high)
        else:
            self._ranges.append(span)

    def _above_all_seen(self, keys: pa.Table, first: bool) -> bool:
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
            return not first and self._highest is not None
        above = not first and self._highest is not None and low > self._highest
        if first or self._highest is not None:
            self._highest = high if self._highest is None else max(self._highest, high)
        return above


def _consecutive(keys: pa.Table) -> tuple[int, int] | None:
    """``(low, high)`` when ``keys`` is one integer column holding exactly low, low+1, ...,
    high in order (no null, no gap, no repeat), else None."""
    if keys.num_columns != 1 or not keys.num_rows or not pa.types.is_integer(keys.column(0).type):
        return None
    column = keys.column(0)
    if column.null_count:
        return None
    bounds = pc.min_max(column)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if high - low + 1 != keys.num_rows:
        return None
    if keys.num_rows > 1 and not pc.all(pc.greater(column[1:], column[:-1])).as_py():
        return None
    return low, high


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
