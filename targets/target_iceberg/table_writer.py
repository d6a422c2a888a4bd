"""Creating, evolving and committing to one Iceberg table: append, merge or overwrite.

Every commit is one transaction carrying the Singer bookmark in its snapshot summary; a commit
that loses an optimistic-concurrency race is retried on the refreshed table. A catalog or store
that is unreachable for a while (restarted, dropping connections) is retried within the service
budget (`dativo_singer.service_retry`); a commit whose answer was lost is looked up by its
``dativo.commit-id`` before it is made again, so it never lands twice.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, ValidationException
from pyiceberg.expressions import AlwaysTrue, BooleanExpression, Or
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table
from pyiceberg.typedef import Record

from dativo_singer.batch_files import KeptFile
from dativo_singer.errors import RetriableError
from dativo_singer.service_retry import call_with_retries
from target_iceberg import file_versions, table_schema
from target_iceberg.bookmark import STATE_SUMMARY_KEY, BookmarkMoved, check_bookmark
from target_iceberg.catalog import describe_catalog, is_unreachable
from target_iceberg.file_registration import (
    ensure_name_mapping,
    register,
    remove_placed,
)
from target_iceberg.merge import can_merge_file_by_file, merge_file_by_file
from target_iceberg.partitioning import PartitionField
from target_iceberg.pyiceberg_internals import without_commit_retries
from target_iceberg.replace import StagedReplace
from target_iceberg.rows import RunKeys, columns_of, key_filter, latest_per_key
from target_iceberg.tables import branch_head

WRITE_MODES = ("append", "merge", "overwrite")
# A commit that loses an optimistic-concurrency race is redone with a jittered exponential
# backoff, capped per wait, until it lands or the budget (attempts or seconds, whichever ends
# first) is spent; then RetriableError (exit 75: the caller may rerun).
MAX_COMMIT_ATTEMPTS = 50
COMMIT_RETRY_SECONDS = 60.0
COMMIT_BACKOFF_FIRST_SECONDS = 0.1
COMMIT_BACKOFF_MAX_SECONDS = 5.0
COMMIT_ID_KEY = "dativo.commit-id"
_LANDED_LOOKBACK = 20  # snapshots searched for a commit whose answer was lost


class CommitConflictsExhausted(RetriableError):
    """Concurrent writers kept winning for the whole conflict budget: retriable by a later run,
    not by the unreachable-service retry (which would multiply the conflict budget)."""


def _service_fault(exc: BaseException) -> bool:
    return not isinstance(exc, CommitConflictsExhausted | BookmarkMoved) and is_unreachable(exc)


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
    replace_changed_files: bool = True  # see file_versions
    name_mapping: bool = True  # tables are created with one (BATCH files kept as they are)
    state_key: str = STATE_SUMMARY_KEY  # the summary property of this run's bookmark (partition)

    @property
    def identifier(self) -> str:
        """``namespace.table``."""
        return f"{self.namespace}.{self.name}"


class TableWriter:
    """Writes batches of one stream into its table."""

    def __init__(self, catalog: Catalog, settings: TableSettings, logger: logging.Logger) -> None:
        self.catalog = catalog
        self.settings = settings
        self.logger = logger
        self._table: Table | None = None
        self._staged = StagedReplace()  # overwrite mode: files written now, swapped in at the end
        self._versions: set[tuple[str, str]] = set()  # (file, version) pairs replaced this run
        self._expected: tuple[bool, dict[str, Any] | None] = (False, None)  # see expect_bookmark
        self._replacing: BooleanExpression | None = None  # edited files' old rows, deleted at the end
        self._run_keys = RunKeys(settings.key_properties)  # keys appended by this run
        self.replaced_key_rows = 0  # rows of this run replaced by a later row of the same key
        self.truncate_pending = False  # a source TRUNCATE: the next commit first deletes every row
        self.follows_types = False  # a change stream: a type change Iceberg cannot promote is refused

    def expect_bookmark(self, state: dict[str, Any] | None) -> None:
        """Compare-and-swap on the bookmark: appends and merges commit only while the table's
        newest bookmark (on the branch) is ``state``, then expect what they committed."""
        self._expected = (True, state)

    def _check_bookmark(self, table: Table) -> bool:
        """Compare-and-swap on the bookmark (``expect_bookmark``); True when it was checked."""
        checking, expected = self._expected
        if not checking or self.settings.write_mode == "overwrite":  # a full replace builds on none
            return False
        check_bookmark(
            table, self.settings.branch, expected, self.settings.identifier, self.settings.state_key
        )
        return True

    def table(self, schema: pa.Schema) -> Table:
        """The table, created (with partition spec and column docs) or evolved to ``schema``."""
        if self._table is None:
            self._table = call_with_retries(
                lambda: table_schema.create_or_load(self.catalog, self.settings, schema, self.logger),
                service=describe_catalog(self.catalog),
                what=f"loading table {self.settings.identifier}",
                logger=self.logger,
                transient=is_unreachable,
            )
        table_schema.evolve(
            self._table,
            schema,
            self.settings,
            self.logger,
            follows_types=self.follows_types,
            before_change=self._staged.wait,  # staged rows: written, their file closed, in their schema
        )
        return self._table

    def align(self, data: pa.Table, table: Table) -> tuple[pa.Table, dict[int, str]]:
        """``table_schema.align``: ``data`` in the table's columns and types, and the reasons of
        rows that do not fit."""
        return table_schema.align(data, table)

    def one_row_per_key(self, data: pa.Table | None) -> pa.Table | None:
        """``data`` with only the later row of each key (append and merge with key properties);
        in append mode the rows left out count in ``replaced_key_rows``."""
        s = self.settings
        if data is None or not s.key_properties or s.write_mode not in ("append", "merge"):
            return data
        kept = latest_per_key(data, s.key_properties)
        if s.write_mode == "append":
            self.replaced_key_rows += data.num_rows - kept.num_rows
        return kept

    def _holds(self, rows: BooleanExpression) -> bool:
        """True when the branch holds a row matching ``rows`` (files pruned by statistics)."""
        assert self._table is not None
        head = branch_head(self._table, self.settings.branch)
        if head is None:
            return False
        scan = self._table.scan(
            row_filter=rows,
            snapshot_id=head.snapshot_id,
            selected_fields=(file_versions.SOURCE_FILE,),
            limit=1,
        )
        return scan.to_arrow().num_rows > 0

    @property
    def staging(self) -> bool:
        """True in overwrite mode, and once an edited file's new version arrived: flushes write
        files; ``finish`` commits the replace."""
        return self.settings.write_mode == "overwrite" or self._replacing is not None

    @property
    def fills_open_files(self) -> bool:
        """True when staged rows go on into one open data file (a replace of an unpartitioned
        table, ``replace.StagedReplace``)."""
        if not self.staging or self.settings.partitioning:
            return False
        return self._table is None or self._table.metadata.spec().is_unpartitioned()

    def commit(
        self,
        data: pa.Table | None,
        properties: dict[str, str],
        files: Sequence[KeptFile] = (),
        changed_keys: pa.Table | None = None,
    ) -> Table:
        """One transaction: append, or upsert by key (merge), of ``data`` and the data files kept
        as they are (``files``, placed by ``file_registration``); in overwrite mode both are only
        staged. ``data`` holds one row per key (``one_row_per_key``). Merging, ``changed_keys``
        (a change stream's, deletes included) are the keys whose old rows go. Retried on the
        refreshed table when a concurrent commit wins."""
        s = self.settings
        assert self._table is not None
        if data is not None and not data.num_rows:
            data = None
        registered: list[DataFile] = [f.handle for f in files]
        replaced = None
        if s.replace_changed_files and s.write_mode != "overwrite":
            versions = columns_of(data, files, sorted(file_versions.COLUMNS))
            replaced = file_versions.superseded(versions, self._versions) if versions is not None else None
        if replaced is not None and s.write_mode == "append" and self._holds(replaced):
            # An edited file: its new version's rows are staged and swapped in for the old ones
            # in one snapshot at the end, so no reader sees the table without them.
            self._replacing = replaced if self._replacing is None else Or(self._replacing, replaced)
            replaced = None
        keyed = bool(s.key_properties) and s.write_mode in ("append", "merge")
        if self.staging:
            if data is not None:
                self._staged.stage(self._table, data)
            self._staged.add(registered, sum(f.rows for f in files))
            return self._table
        mode, keys = s.write_mode, columns_of(data, files, s.key_properties) if keyed else None
        if changed_keys is not None and s.write_mode == "merge":
            keys = changed_keys
        if s.write_mode == "append" and keys is not None:
            # Appending: a key this run committed before is replaced, as a merge would (the
            # later row wins); keys from earlier runs are left as they are.
            repeated = self._run_keys.repeated(keys)
            self.replaced_key_rows += repeated.num_rows
            mode, keys = ("merge", repeated) if repeated.num_rows else ("append", None)

        def action(table: Table, props: dict[str, str]) -> None:
            if registered:
                ensure_name_mapping(table)
            self._transaction(table, data, props, mode, replaced, registered, keys)

        committed = self._with_retries(action, properties)
        self.truncate_pending = False
        return committed

    def register(self, table: Table, file: KeptFile, partition: Record | None) -> DataFile | None:
        """``file_registration.register`` (placing the file), retried within the service
        budget while the store is unreachable."""
        return call_with_retries(
            lambda: register(table, file, partition),
            service=describe_catalog(self.catalog),
            what=f"adding a BATCH file to {self.settings.identifier}",
            logger=self.logger,
            transient=is_unreachable,
        )

    def discard(self, files: Sequence[KeptFile]) -> None:
        """Remove the placed copies of kept files that will not be committed."""
        if self._table is not None:
            remove_placed(self._table, [f.handle for f in files])

    def finish(self, properties: dict[str, str]) -> Table | None:
        """Overwrite mode: commit the replace staged by this run (nothing staged: no change)."""
        if not self.staging or not self._staged.files:
            return None
        branch = self.settings.branch or "main"

        replacing = self._replacing

        def action(table: Table, props: dict[str, str]) -> None:
            ensure_name_mapping(table)
            if replacing is None:
                self._staged.commit(table, props, branch)
            else:
                self._staged.commit_versions(table, props, branch, replacing)

        return self._with_retries(action, properties)

    def commit_bookmark(self, table: Table, properties: dict[str, str]) -> Table:
        """An empty snapshot on the branch carrying ``properties`` (the bookmark alone)."""
        self._table = table
        branch = self.settings.branch or "main"

        def append_nothing(table: Table, props: dict[str, str]) -> None:
            empty = table.schema().as_arrow().empty_table()
            if not self.truncate_pending:
                table.append(empty, snapshot_properties=props, branch=branch)
                return
            with table.transaction() as tx:
                if branch_head(table, branch) is not None:
                    tx.delete(AlwaysTrue(), snapshot_properties=props, branch=branch)
                tx.append(empty, snapshot_properties=props, branch=branch)

        committed = self._with_retries(append_nothing, properties)
        self.truncate_pending = False
        return committed

    @property
    def staged_rows(self) -> int:
        """Rows written for the pending replace."""
        return self._staged.rows

    def _with_retries(
        self, action: Callable[[Table, dict[str, str]], None], properties: dict[str, str]
    ) -> Table:
        """``action`` committed once: retried on a lost race (refreshed table) and, within the
        service budget, on an unreachable catalog or store (unless the commit had landed)."""
        props = {**properties, COMMIT_ID_KEY: uuid.uuid4().hex}
        first = [True]

        def attempt() -> Table:
            fresh, first[0] = not first[0], False
            return self._commit_racing(action, props, fresh)

        table = call_with_retries(
            attempt,
            service=describe_catalog(self.catalog),
            what=f"commit to {self.settings.identifier}",
            logger=self.logger,
            transient=_service_fault,
            landed=lambda: self._landed(props[COMMIT_ID_KEY]),
        )
        key = self.settings.state_key
        if self._expected[0] and key in props:
            self._expected = (True, json.loads(props[key]))
        return table

    def _landed(self, commit_id: str) -> Table | None:
        """The table when a snapshot of the branch carries ``commit_id`` (an earlier attempt
        committed although its answer was lost), else None."""
        table = self.catalog.load_table(self.settings.identifier)
        snapshot = branch_head(table, self.settings.branch)
        for _ in range(_LANDED_LOOKBACK):
            if snapshot is None:
                return None
            if (snapshot.summary and snapshot.summary.get(COMMIT_ID_KEY)) == commit_id:
                self._table = table
                return table
            parent = snapshot.parent_snapshot_id
            snapshot = table.snapshot_by_id(parent) if parent is not None else None
        return None

    def _commit_racing(
        self, action: Callable[[Table, dict[str, str]], None], props: dict[str, str], fresh: bool
    ) -> Table:
        s = self.settings
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            table = self.catalog.load_table(s.identifier) if attempt > 1 or fresh else self._table
            assert table is not None
            try:
                self._ensure_branch(table)
                if self._check_bookmark(table):  # checked on the metadata the commit builds on
                    without_commit_retries(table)  # a lost race comes back here, to be checked again
                action(table, props)
                self._table = self.catalog.load_table(s.identifier)
                return self._table
            except (CommitFailedException, ValidationException) as exc:  # a concurrent commit won
                left = COMMIT_RETRY_SECONDS - (time.monotonic() - started)
                if attempt >= MAX_COMMIT_ATTEMPTS or left <= 0:
                    raise CommitConflictsExhausted(
                        f"commit to {s.identifier} kept conflicting with concurrent writers "
                        f"({attempt} attempts in {time.monotonic() - started:.0f}s)"
                    ) from exc
                cap = min(COMMIT_BACKOFF_MAX_SECONDS, COMMIT_BACKOFF_FIRST_SECONDS * 2 ** (attempt - 1))
                wait = min(left, cap * (0.5 + random.random() / 2))
                self.logger.warning(
                    "Commit to %s lost a concurrent update (attempt %d): %s; retrying in %.2fs",
                    s.identifier,
                    attempt,
                    exc,
                    wait,
                )
                time.sleep(wait)

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

    def _transaction(
        self,
        table: Table,
        data: pa.Table | None,
        props: dict[str, str],
        mode: str,
        replaced: BooleanExpression | None = None,
        registered: Sequence[DataFile] = (),
        keys: pa.Table | None = None,
    ) -> None:
        """One commit of ``data`` and the ``registered`` data files; ``replaced`` (rows of files'
        earlier versions) and, merging, the rows of ``keys`` are deleted in it."""
        branch = self.settings.branch or "main"
        key_names = self.settings.key_properties
        truncating = self.truncate_pending
        if (
            mode == "merge"
            and replaced is None
            and not truncating
            and can_merge_file_by_file(table, key_names, branch)
        ):
            assert keys is not None
            merge_file_by_file(
                table, data, key_names[0], props, branch, registered=registered, keys=keys.column(0)
            )
            return
        kwargs: dict[str, Any] = {"snapshot_properties": props, "branch": branch}
        has_rows = branch_head(table, branch)
        with table.transaction() as tx:
            if truncating and has_rows is not None:
                tx.delete(AlwaysTrue(), **kwargs)
            elif replaced is not None and has_rows is not None:
                tx.delete(replaced, **kwargs)
            if not truncating and mode == "merge" and key_names and keys is not None and has_rows is not None:
                tx.delete(key_filter(keys, key_names), **kwargs)
            if data is not None:
                tx.append(data, **kwargs)
            elif not registered:  # only deletes (or none left to make): the bookmark still lands
                tx.append(table.schema().as_arrow().empty_table(), **kwargs)
            if registered:
                with tx.update_snapshot(**kwargs).fast_append() as append:
                    for data_file in registered:
                        append.append_data_file(data_file)
