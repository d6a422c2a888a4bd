"""IcebergSink: writes one stream's aligned Arrow batches, with their Singer state, into its table.

Buffering, conversion, policies and dead letters are ``dativo_singer.sink.ArrowSink``; this class
creates or evolves the table, aligns batches to it and commits (append, merge, or a staged
overwrite), with the state in the snapshot summary.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from pyiceberg.typedef import Record

from dativo_singer.batch_files import KeptFile
from dativo_singer.conversion import Rejected
from dativo_singer.errors import FatalError
from dativo_singer.service_retry import call_with_retries
from dativo_singer.sink import ArrowSink, Written
from target_iceberg import file_registration, file_versions
from target_iceberg.bookmark import branch_state, latest_bookmark
from target_iceberg.catalog import describe_catalog, is_unreachable
from target_iceberg.changes import SDC_DELETED_AT, is_change_stream, without_deletes
from target_iceberg.ownership import claim_table, tenant_of
from target_iceberg.partitioning import INGEST_DATE, add_ingest_date, needs_ingest_date
from target_iceberg.settings import table_settings
from target_iceberg.table_writer import TableWriter
from target_iceberg.tables import branch_head, load_table_or_none, snapshot_total_rows
from target_iceberg.type_changes import refused_type_change

EPOCH = dt.date(1970, 1, 1)
# Rows of a replace handed on to the data file being filled (``IcebergSink.due_rows``).
STAGED_ROWS = 100_000


class IcebergSink(ArrowSink):
    """One stream → one Iceberg table; one snapshot per commit, carrying the Singer state."""

    _writer: TableWriter | None = None
    _held_state: dict[str, Any] | None = None  # the state the table is known to hold

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rewrite_reasons: set[str] = set()
        if self.config.get("bookmark_check", True) is not False:
            self.writer.expect_bookmark(self._bookmark_at_start())

    def _bookmark_at_start(self) -> dict[str, Any] | None:
        """The bookmark this run's rows build on: the one the runner resumed from
        (``bookmark_at_start``), else the table's newest one now, as the stream starts."""
        given = self.config.get("bookmark_at_start") or {}
        if self.stream_name in given:
            return given[self.stream_name]
        settings = self.writer.settings
        table = call_with_retries(
            lambda: load_table_or_none(self.catalog, settings.identifier),
            service=describe_catalog(self.catalog),
            what=f"loading table {settings.identifier}",
            logger=self.logger,
            transient=is_unreachable,
        )
        return branch_state(table, settings.branch, settings.state_key) if table is not None else None

    def kept_metadata_columns(self, schema: dict) -> frozenset[str]:
        """The source-file version columns, when they replace earlier versions
        (``replace_changed_files``); a change stream's ``_sdc_lsn`` and ``_sdc_deleted_at``."""
        kept = file_versions.COLUMNS if self._replaces_files(schema) else frozenset()
        return kept | super().kept_metadata_columns(schema)

    def _replaces_files(self, schema: dict) -> bool:
        return self.config.get("replace_changed_files", True) is not False and file_versions.carries_versions(
            schema
        )

    @property
    def catalog(self) -> Catalog:
        """The target's catalog, opened once per run."""
        return self.target.catalog  # type: ignore[attr-defined]

    @property
    def writer(self) -> TableWriter:
        """The table writer of this stream (settings from config and the SCHEMA message)."""
        if self._writer is None:
            bookmarks = self.target.bookmark_properties.get(self.stream_name)  # type: ignore[attr-defined]
            settings = table_settings(self.stream_name, self.config, list(self.key_properties), bookmarks)
            self._writer = TableWriter(self.catalog, settings, self.logger)
            self._writer.follows_types = self._change_stream
        return self._writer

    def update_schema(self, schema: dict, key_properties: list[str]) -> None:
        """A new SCHEMA mid-stream. A change stream's column type the table cannot be promoted
        to is refused at once: nothing after it is written, the bookmark stays before it."""
        super().update_schema(schema, key_properties)
        writer = self.writer
        writer.follows_types = self._change_stream
        table = load_table_or_none(self.catalog, writer.settings.identifier) if writer.follows_types else None
        refused = refused_type_change(table, self.buffer.converter.schema, self.location) if table else None
        if refused is not None:
            raise FatalError(refused)

    @property
    def location(self) -> str:
        """``namespace.table``."""
        return self.writer.settings.identifier

    @property
    def write_mode(self) -> str:
        """append | merge | overwrite."""
        return self.writer.settings.write_mode

    @property
    def holds_state_back(self) -> bool:
        """True in overwrite mode: the replace is committed at end of input."""
        return self.writer.staging

    def due_rows(self, rows: int) -> int:
        """While a replace is staged into an unpartitioned table, at most ``STAGED_ROWS``: the
        rows go on into the data file being filled (nothing is committed before the end), so the
        end of input leaves little to write and the buffer stays small."""
        return min(rows, STAGED_ROWS) if self.writer.fills_open_files else rows

    def align(self, chunks: list[pa.Table], rejected: list[Rejected]) -> pa.Table:
        """Every chunk in the table's schema (created or evolved first), concatenated.

        Chunks are aligned one by one: after a mid-stream SCHEMA change they may differ, and the
        table's types win (values that do not fit are rejected, never silently dropped)."""
        writer = self.writer
        if needs_ingest_date(writer.settings.partitioning):
            today = dt.datetime.now(dt.timezone.utc).date()
            chunks = [add_ingest_date(chunk, today) for chunk in chunks]
        table = None
        for chunk in chunks:
            table = writer.table(chunk.schema)
        assert table is not None
        aligned = []
        for chunk in chunks:
            data, reasons = writer.align(chunk, table)
            if reasons:
                records = chunk.to_pylist()
                rejected.extend(Rejected(records[i], r) for i, r in sorted(reasons.items()))
                data = data.filter(pa.array([i not in reasons for i in range(data.num_rows)]))
            aligned.append(data)
        return pa.concat_tables(aligned)

    def write(self, data: pa.Table, state: dict[str, Any] | None) -> Written:
        """One snapshot with ``data`` and ``state`` (overwrite mode: staged for ``finish``)."""
        return self.write_with_files(data, state, []) or Written(0)

    def write_with_files(
        self, data: pa.Table | None, state: dict[str, Any] | None, files: list[KeptFile]
    ) -> Written | None:
        """``write``, with BATCH files kept as they are added to the same snapshot; None when
        there is neither a row nor a file."""
        replaced_before = self.writer.replaced_key_rows
        data = self.writer.one_row_per_key(data)  # what lands, and what the snapshot says
        changed_keys = None
        if self._hard_deletes:
            data, changed_keys = without_deletes(data, list(self.key_properties))
        rows = (data.num_rows if data is not None else 0) + sum(f.rows for f in files)
        if not rows and not files and changed_keys is None and not self.writer.truncate_pending:
            return None
        table = self.writer.commit(data, self._snapshot_properties(rows, state), files, changed_keys)
        replaced = self.writer.replaced_key_rows - replaced_before
        if self.writer.staging:
            return Written(rows, staged=True, replaced_key_rows=replaced)
        self._held_state = state
        return replace(self._written(table, rows), replaced_key_rows=replaced)

    @property
    def _change_stream(self) -> bool:
        return is_change_stream(self.original_schema, list(self.key_properties))

    @property
    def _hard_deletes(self) -> bool:
        """A change stream whose deletes remove rows (``deletes: hard``, the default)."""
        return self._change_stream and self.config.get("deletes", "hard") != "soft"

    def take_file(self, path: str) -> KeptFile | None:
        """The BATCH file placed in the table as it is, when rewriting it would change nothing
        (``register_batch_files``; see ``file_registration``), else None (logged once per
        reason)."""
        settings = self.writer.settings
        if self.config.get("register_batch_files") is False:
            return None
        if self.buffer.has_policies:
            return self._rewrites("column policies change values")
        expected = self.buffer.converter.schema
        needed = list(settings.key_properties) if settings.write_mode in ("append", "merge") else []
        distinct = sorted(file_versions.COLUMNS) if self._replaces_files(self.schema) else []
        deletes = [SDC_DELETED_AT] if self._hard_deletes else []
        kept, reason = file_registration.inspect(path, expected, needed + distinct + deletes, distinct)
        if kept is None:
            return self._rewrites(reason)
        if self._hard_deletes and kept.columns is not None:
            if kept.columns.column(SDC_DELETED_AT).null_count != kept.rows:
                return self._rewrites("it holds deletes (deletes: hard)")
            kept.columns = kept.columns.drop_columns([SDC_DELETED_AT])
        if needed and not file_registration.unique_keys(kept, settings):
            return self._rewrites("it holds a key more than once")
        with_derived, derived, partition = expected, frozenset[str](), None
        if needs_ingest_date(settings.partitioning):  # the load date: the same for the whole file
            today = dt.datetime.now(dt.timezone.utc).date()
            with_derived = add_ingest_date(expected.empty_table(), today).schema
            derived, partition = frozenset({INGEST_DATE}), Record((today - EPOCH).days)
        table = self.writer.table(with_derived)
        mismatch = file_registration.table_mismatch(table, expected, derived)
        if mismatch is not None:
            return self._rewrites(mismatch)
        kept.handle = self.writer.register(table, kept, partition)
        return kept if kept.handle is not None else self._rewrites("pyiceberg cannot describe it")

    def _rewrites(self, reason: str) -> KeptFile | None:
        """None (the file is read and rewritten), logging ``reason`` the first time."""
        if reason not in self._rewrite_reasons:
            self._rewrite_reasons.add(reason)
            self.logger.info(
                "BATCH files of %s are rewritten, not added as they are: %s", self.stream_name, reason
            )
        return None

    def keeps_files(self, chunks: list[pa.Table], files: list[KeptFile]) -> bool:
        """With key properties (merge, or append where a later row of a key wins): files are
        kept only when no record in the same commit and no other file shares a key with them
        (which row wins would depend on their order)."""
        settings = self.writer.settings
        if settings.write_mode not in ("append", "merge") or not settings.key_properties:
            return True
        if chunks or any(f.columns is None for f in files):
            return False
        keys = pa.concat_tables([f.columns.select(settings.key_properties) for f in files])  # type: ignore[union-attr]
        return file_registration.all_distinct(keys)

    def discard_files(self, files: list[KeptFile]) -> None:
        """Placed files that will not be committed are removed from the table's folder."""
        if files:
            self.writer.discard(files)

    def finish(self, state: dict[str, Any] | None) -> Written | None:
        """End of input: commit the replace staged in overwrite mode (other modes: nothing)."""
        rows = self.writer.staged_rows
        table = self.writer.finish(self._snapshot_properties(rows, state))
        if table is None:
            return None
        self._held_state = state
        return self._written(table, rows)

    def record_bookmark(self, state: dict[str, Any]) -> Written | None:
        """An empty snapshot carrying ``state``, unless the table's newest bookmark already is
        ``state``. No table yet: nothing (a table is only created with rows)."""
        truncating = self.writer.truncate_pending
        if state == self._held_state and not truncating:
            return None
        settings = self.writer.settings
        table = load_table_or_none(self.catalog, settings.identifier)
        if table is None:
            self.logger.info("No table %s yet: the bookmark is not stored", settings.identifier)
            return None
        tenant = tenant_of(settings.table_properties)
        if tenant:
            table = claim_table(table, settings.identifier, settings.namespace, tenant)
        found = latest_bookmark(table, settings.branch, settings.state_key)
        if found is not None and json.loads(found[0]) == state and not truncating:
            self._held_state = state
            return None
        committed = self.writer.commit_bookmark(table, self._snapshot_properties(0, state))
        self._held_state = state
        return self._written(committed, 0)

    def _written(self, table: Table, rows: int) -> Written:
        snapshot = branch_head(table, self.writer.settings.branch)
        return Written(
            rows,
            snapshot_id=snapshot.snapshot_id if snapshot else None,
            metadata_location=table.metadata_location,
            table_rows=snapshot_total_rows(snapshot),
        )

    def _snapshot_properties(self, rows: int, state: dict[str, Any] | None) -> dict[str, str]:
        properties = {"dativo.stream": self.stream_name, "dativo.rows": str(rows)}
        if state is not None:
            properties[self.writer.settings.state_key] = json.dumps(state, sort_keys=True)
        return properties

    def activate_version(self, new_version: int) -> None:
        """ACTIVATE_VERSION: the stream is a full replace, committed at end of input. Arriving
        after this run already committed rows (a tap that sends it only at the end), it is
        ignored: replacing then would drop the rows this run committed."""
        settings = self.writer.settings
        if self._change_stream and settings.write_mode != "overwrite":
            # A source TRUNCATE (docs/CDC.md): the rows before the marker are gone; the next
            # commit deletes every row of the table with the changes after it.
            _, _, files = self.buffer.take()
            self.discard_files(files)
            self.writer.truncate_pending = True
            self.logger.info("%s: the source table was truncated (version %s)", self.stream_name, new_version)
            return
        if settings.write_mode == "overwrite":
            return
        if self.committed_rows:
            self.logger.warning(
                "ACTIVATE_VERSION for %s after rows were committed: ignored", self.stream_name
            )
            return
        self.logger.info("ACTIVATE_VERSION for %s: this run replaces the table", self.stream_name)
        settings.write_mode = "overwrite"
