"""Creating, evolving and committing to one Iceberg table: append, merge or overwrite.

Every commit is one transaction carrying the Singer bookmark in its snapshot summary; a commit
that loses an optimistic-concurrency race is retried on the refreshed table.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.expressions import And, BooleanExpression, EqualTo, In, Or
from pyiceberg.table import Table

from dativo_singer.errors import FatalError, RetriableError
from target_iceberg.merge import can_merge_file_by_file, merge_file_by_file
from target_iceberg.partitioning import PartitionField, apply_partition_spec
from target_iceberg.replace import StagedReplace

WRITE_MODES = ("append", "merge", "overwrite")
MAX_COMMIT_ATTEMPTS = 8
_ROW = "__dativo_row"


@dataclass
class TableSettings:
    """How one stream's table is created and written."""

    namespace: str
    name: str
    write_mode: str = "append"
    key_properties: list[str] = field(default_factory=list)
    branch: str | None = None
    partitioning: list[PartitionField] = field(default_factory=list)
    table_properties: dict[str, str] = field(default_factory=dict)
    column_docs: dict[str, str] = field(default_factory=dict)
    strict: bool = False

    @property
    def identifier(self) -> str:
        """``namespace.table``."""
        return f"{self.namespace}.{self.name}"


def latest_per_key(data: pa.Table, keys: list[str]) -> pa.Table:
    """Keep the last row of each key (later records win inside one batch)."""
    if not keys or data.num_rows < 2:
        return data
    numbered = data.append_column(_ROW, pa.array(range(data.num_rows), pa.int64()))
    last = numbered.group_by(keys, use_threads=False).aggregate([(_ROW, "max")])
    indices = pc.sort_indices(last.column(f"{_ROW}_max"))
    keep = pc.take(last.column(f"{_ROW}_max"), indices)
    return data.take(keep) if len(keep) != data.num_rows else data


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


def is_widening(old: pa.DataType, new: pa.DataType) -> bool:
    """Iceberg's safe promotions: int→long, float→double, decimal(P,S)→decimal(P2,S) with P2>P."""
    if pa.types.is_int32(old) and pa.types.is_int64(new):
        return True
    if pa.types.is_float32(old) and pa.types.is_float64(new):
        return True
    return (
        pa.types.is_decimal(old)
        and pa.types.is_decimal(new)
        and old.scale == new.scale
        and new.precision > old.precision
    )


def _cast_or_reject(column: pa.ChunkedArray, field: pa.Field, reasons: dict[int, str]) -> pa.ChunkedArray:
    """Cast to the table's type; values that do not fit become null and their rows are rejected."""
    try:
        return pc.cast(column, field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    values = []
    for index, value in enumerate(column.to_pylist()):
        try:
            values.append(None if value is None else pa.scalar(value).cast(field.type).as_py())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            reasons.setdefault(
                index, f"field {field.name!r}: {value!r} does not fit the table's {field.type}"
            )
            values.append(None)
    return pa.chunked_array([pa.array(values, type=field.type)])


class TableWriter:
    """Writes batches of one stream into its table."""

    def __init__(self, catalog: Catalog, settings: TableSettings, logger: logging.Logger) -> None:
        self.catalog = catalog
        self.settings = settings
        self.logger = logger
        self._table: Table | None = None
        self._staged = StagedReplace()  # overwrite mode: files written now, swapped in at the end

    def table(self, schema: pa.Schema) -> Table:
        """The table, created (with partition spec and column docs) or evolved to ``schema``."""
        if self._table is None:
            self._table = self._create_or_load(schema)
        self._evolve(self._table, schema)
        return self._table

    def _create_or_load(self, schema: pa.Schema) -> Table:
        s = self.settings
        self.catalog.create_namespace_if_not_exists(s.namespace)
        if self.catalog.table_exists(s.identifier):
            return self.catalog.load_table(s.identifier)
        try:
            table = self.catalog.create_table(
                s.identifier, schema=schema, properties=dict(s.table_properties)
            )
        except Exception as exc:  # another writer created it first
            if not self.catalog.table_exists(s.identifier):
                raise FatalError(f"cannot create table {s.identifier}: {exc}") from None
            return self.catalog.load_table(s.identifier)
        apply_partition_spec(table, s.partitioning)
        self._document_columns(table)
        self.logger.info("Created table %s", s.identifier)
        return table

    def _document_columns(self, table: Table) -> None:
        docs = {k: v for k, v in self.settings.column_docs.items() if k in table.schema().column_names}
        if not docs:
            return
        with table.update_schema() as update:
            for column, doc in docs.items():
                update.update_column(column, doc=doc)

    def _evolve(self, table: Table, schema: pa.Schema) -> None:
        """Relaxed mode: add new columns and apply safe widenings; never drop or narrow."""
        if self.settings.strict:
            return
        existing = {f.name: f.type for f in table.schema().as_arrow()}
        changes = [
            f.with_nullable(True)
            for f in schema
            if f.name not in existing
            or (f.type != existing[f.name] and is_widening(existing[f.name], f.type))
        ]
        if not changes:
            return
        self.logger.info(
            "Evolving %s: %s", self.settings.identifier, ", ".join(f"{f.name} {f.type}" for f in changes)
        )
        try:
            with table.update_schema() as update:
                update.union_by_name(pa.schema(changes))
        except (ValueError, TypeError) as exc:
            raise FatalError(f"cannot evolve {self.settings.identifier}: {exc}") from None
        self._document_columns(table)

    def align(self, data: pa.Table, table: Table) -> tuple[pa.Table, dict[int, str]]:
        """``data`` in the table's column order and types; rows that cannot be cast, and in strict
        mode rows with values in columns the table lacks, are returned as reasons by row index."""
        reasons: dict[int, str] = {}
        target = table.schema().as_arrow()
        for name in data.column_names:
            if name not in target.names:
                column = data.column(name)
                if column.null_count < len(column):
                    for index in pc.indices_nonzero(pc.is_valid(column)).to_pylist():
                        reasons.setdefault(index, f"field {name!r} is not in the table schema")
        arrays = []
        for target_field in target:
            if target_field.name not in data.column_names:
                arrays.append(pa.nulls(data.num_rows, target_field.type))
                continue
            column = data.column(target_field.name)
            if column.type != target_field.type:
                column = _cast_or_reject(column, target_field, reasons)
            arrays.append(column)
        aligned = pa.Table.from_arrays(arrays, schema=target)
        return aligned, reasons

    @property
    def staging(self) -> bool:
        """True in overwrite mode: flushes write files; ``finish`` commits the replace."""
        return self.settings.write_mode == "overwrite"

    def commit(self, data: pa.Table, properties: dict[str, str]) -> Table:
        """One transaction: append, or upsert by key (merge); in overwrite mode the rows are only
        staged. Retried on the refreshed table when a concurrent commit wins."""
        s = self.settings
        assert self._table is not None
        if self.staging:
            self._staged.stage(self._table, data)
            return self._table
        if s.write_mode == "merge":
            data = latest_per_key(data, s.key_properties)
        return self._with_retries(lambda table: self._transaction(table, data, properties, s.write_mode))

    def finish(self, properties: dict[str, str]) -> Table | None:
        """Overwrite mode: commit the replace staged by this run (nothing staged: no change)."""
        if not self.staging or not self._staged.files:
            return None
        branch = self.settings.branch or "main"
        return self._with_retries(lambda table: self._staged.commit(table, properties, branch))

    @property
    def staged_rows(self) -> int:
        """Rows written for the pending replace."""
        return self._staged.rows

    def _with_retries(self, action: Callable[[Table], None]) -> Table:
        s = self.settings
        for attempt in range(1, MAX_COMMIT_ATTEMPTS + 1):
            table = self.catalog.load_table(s.identifier) if attempt > 1 else self._table
            assert table is not None
            try:
                self._ensure_branch(table)
                action(table)
                self._table = self.catalog.load_table(s.identifier)
                return self._table
            except (CommitFailedException, ValidationException) as exc:  # a concurrent commit won
                wait = min(2.0, 0.05 * 2**attempt) * (0.5 + random.random())
                self.logger.warning(
                    "Commit to %s lost a concurrent update (attempt %d/%d): %s; retrying in %.2fs",
                    s.identifier,
                    attempt,
                    MAX_COMMIT_ATTEMPTS,
                    exc,
                    wait,
                )
                time.sleep(wait)
        raise RetriableError(f"commit to {s.identifier} kept conflicting with concurrent writers")

    def _ensure_branch(self, table: Table) -> None:
        branch = self.settings.branch
        if not branch or branch == "main" or branch in table.refs():
            return
        snapshot = table.current_snapshot()
        if snapshot is None:
            # Some catalogs (REST) refuse a branch on a table without snapshots: give main an
            # empty one to branch from; main keeps no rows.
            table.append(table.schema().as_arrow().empty_table(), {"dativo.operation": "branch-base"})
            snapshot = table.current_snapshot()
            assert snapshot is not None
        table.manage_snapshots().create_branch(snapshot.snapshot_id, branch).commit()
        self.logger.info("Created branch %s of %s", branch, self.settings.identifier)

    def _transaction(self, table: Table, data: pa.Table, props: dict[str, str], mode: str) -> None:
        branch = self.settings.branch or "main"
        keys = self.settings.key_properties
        if mode == "merge" and can_merge_file_by_file(table, keys, branch):
            merge_file_by_file(table, data, keys[0], props, branch)
            return
        kwargs: dict[str, Any] = {"snapshot_properties": props, "branch": branch}
        has_rows = table.snapshot_by_name(branch) if branch != "main" else table.current_snapshot()
        with table.transaction() as tx:
            if mode == "merge" and self.settings.key_properties and has_rows is not None:
                tx.delete(key_filter(data, self.settings.key_properties), **kwargs)
                tx.append(data, **kwargs)
            else:
                tx.append(data, **kwargs)
