"""IcebergSink: buffers one stream as Arrow chunks and commits them as one Iceberg snapshot."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog
from singer_sdk import Target
from singer_sdk.exceptions import MissingKeyPropertiesError
from singer_sdk.sinks import BatchSink

from target_iceberg.bookmark import STATE_SUMMARY_KEY
from target_iceberg.conversion import RecordConverter, Rejected
from target_iceberg.dead_letter import write_dead_letters
from target_iceberg.partitioning import add_ingest_date, needs_ingest_date
from target_iceberg.policy import apply_policies, check_policies
from target_iceberg.settings import table_settings
from target_iceberg.table_writer import TableWriter

COMMIT_LOG_PREFIX = "dativo.commit"
CHUNK_ROWS = 10_000  # records are turned into Arrow this many at a time (bounded dict memory)


class IcebergSink(BatchSink):
    """One stream: records → Arrow chunks → (policies, derived columns) → one commit per flush.

    The target decides when to flush (at STATE boundaries, see TargetIceberg); the SDK's own
    size-based draining is not used.
    """

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict,
        key_properties: list[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self._target = target
        self._policies: dict[str, str] = dict(self.config.get("column_policies") or {})
        check_policies(self._policies)
        self._pending: list[dict[str, Any]] = []
        self._pending_lines: list[bytes] = []
        self._chunks: list[pa.Table] = []
        self._rejected: list[Rejected] = []
        self.buffered_rows = 0
        self.buffered_bytes = 0
        self.buffered_since: float | None = None
        self._committed_rows = 0
        self._converter = self._new_converter(schema, list(key_properties or []))
        self._keys = frozenset(key_properties or [])
        self._writer: TableWriter | None = None

    def _new_converter(self, schema: dict, key_properties: list[str]) -> RecordConverter:
        return RecordConverter(
            schema,
            key_properties,
            nested=self.config.get("nested") or "json",
            strict=self.config.get("schema_mode") == "strict",
            keep_metadata=bool(self.config.get("add_record_metadata")),
        )

    def get_validator(self) -> None:
        """No per-record JSON Schema validation: values are checked per chunk in Arrow."""
        return None

    @property
    def is_full(self) -> bool:
        """Never: the target flushes at STATE boundaries."""
        return False

    @property
    def catalog(self) -> Catalog:
        """The target's catalog, opened once per run."""
        return self._target.catalog  # type: ignore[attr-defined]

    @property
    def writer(self) -> TableWriter:
        """The table writer of this stream (settings from config and the SCHEMA message)."""
        if self._writer is None:
            settings = table_settings(
                self.stream_name, self.config, list(self.key_properties), self._bookmark_properties()
            )
            self._writer = TableWriter(self.catalog, settings, self.logger)
        return self._writer

    def _bookmark_properties(self) -> list[str] | None:
        return self._target.bookmark_properties.get(self.stream_name)  # type: ignore[attr-defined]

    # Buffering

    def add(self, record: dict[str, Any], nbytes: int) -> None:
        """Buffer one record (``nbytes``: its message size, for the byte threshold)."""
        if self.buffered_since is None:
            self.buffered_since = time.monotonic()
        if not self._keys <= record.keys():
            raise MissingKeyPropertiesError(
                f"Record of {self.stream_name} lacks key properties {sorted(self._keys - record.keys())}"
            )
        if self._pending_lines:
            self._convert_pending()  # keep the order of records
        self._pending.append(record)
        self.buffered_rows += 1
        self.buffered_bytes += nbytes
        if len(self._pending) >= CHUNK_ROWS:
            self._convert_pending()

    def add_lines(self, lines: list[bytes], nbytes: int) -> None:
        """Buffer raw RECORD message lines (parsed in bulk at conversion)."""
        if self.buffered_since is None:
            self.buffered_since = time.monotonic()
        if self._pending:
            self._convert_pending()
        self._pending_lines.extend(lines)
        self.buffered_rows += len(lines)
        self.buffered_bytes += nbytes
        if len(self._pending_lines) >= CHUNK_ROWS:
            self._convert_pending()

    def process_record(self, record: dict, context: dict) -> None:
        """SDK path (used with stream maps): buffer the record."""
        self.add(record, 0)

    def process_batch(self, context: dict) -> None:
        """SDK hand-off (BATCH files it decoded, or its own drain): buffer, never commit here;
        commits happen at STATE boundaries chosen by the target."""
        for record in context.get("records") or []:
            self.add(record, 0)

    def process_batch_files(self, encoding: Any, files: Sequence[str]) -> None:
        """BATCH messages: local Parquet files go to Arrow directly; anything else the SDK reads."""
        parquet = getattr(encoding, "format", None) == "parquet"
        local = [f.removeprefix("file://") for f in files if "://" not in f or f.startswith("file://")]
        if not parquet or len(local) != len(files):
            super().process_batch_files(encoding, files)
            return
        for path in local:
            table = pq.read_table(path)
            self._convert_pending()
            if self.buffered_since is None:
                self.buffered_since = time.monotonic()
            self.buffered_rows += table.num_rows
            self.buffered_bytes += table.nbytes
            self._add_chunk(*self._converter.convert_table(table))

    def update_schema(self, schema: dict, key_properties: list[str]) -> None:
        """A new SCHEMA mid-stream: convert what is buffered with the old one, then switch."""
        self._convert_pending()
        self.schema = self.original_schema = schema
        self._key_properties = key_properties
        self._keys = frozenset(key_properties)
        self._converter = self._new_converter(schema, key_properties)

    def _convert_pending(self) -> None:
        if self._pending_lines:
            lines, self._pending_lines = self._pending_lines, []
            self._add_chunk(*self._converter.convert_lines(lines))
        if self._pending:
            records, self._pending = self._pending, []
            self._add_chunk(*self._converter.convert(records))

    def _add_chunk(self, data: pa.Table, rejected: list[Rejected]) -> None:
        if data.num_rows:
            self._chunks.append(apply_policies(data, self._policies, self.config.get("hash_salt") or ""))
        self._rejected.extend(rejected)

    # Committing

    def flush(self, state: dict[str, Any] | None) -> None:
        """Commit everything buffered as one snapshot carrying ``state``; dead-letter rejects."""
        self._convert_pending()
        if not self._chunks and not self._rejected:
            self._reset()
            return
        started = time.monotonic()
        writer = self.writer
        rejected = list(self._rejected)
        data, table = self._aligned_batch(writer, rejected) if self._chunks else (None, None)
        dead_letter_path = None
        if rejected:
            folder = self.config.get("dead_letter_dir") or "dead_letter"
            dead_letter_path = str(write_dead_letters(folder, self.stream_name, rejected))
            self.logger.warning(
                "%d record(s) of %s rejected, written to %s (first reason: %s)",
                len(rejected),
                self.stream_name,
                dead_letter_path,
                rejected[0].reason,
            )
        rows = data.num_rows if data is not None else 0
        if data is not None and rows:
            table = writer.commit(data, self._snapshot_properties(rows, state))
        if writer.staging:  # overwrite: written, not yet committed
            self.logger.info("Staged %d rows of %s for the replace at end of input", rows, self.stream_name)
            self._log_rejects_only(len(rejected), dead_letter_path)
        else:
            self._committed_rows += rows
            self._log_commit(table, rows, len(rejected), dead_letter_path, time.monotonic() - started)
        self._reset()

    def finish(self, state: dict[str, Any] | None) -> None:
        """End of input: commit the replace staged in overwrite mode (other modes: nothing)."""
        started = time.monotonic()
        rows = self.writer.staged_rows
        table = self.writer.finish(self._snapshot_properties(rows, state))
        if table is not None:
            self._committed_rows += rows
            self._log_commit(table, rows, 0, None, time.monotonic() - started)

    def _snapshot_properties(self, rows: int, state: dict[str, Any] | None) -> dict[str, str]:
        properties = {"dativo.stream": self.stream_name, "dativo.rows": str(rows)}
        if state is not None:
            properties[STATE_SUMMARY_KEY] = json.dumps(state, sort_keys=True)
        return properties

    def _log_rejects_only(self, rejected: int, dead_letter_path: str | None) -> None:
        if rejected:  # the runner counts dead-lettered rows from commit lines
            self._log_commit(None, 0, rejected, dead_letter_path, 0.0)

    def _aligned_batch(self, writer: TableWriter, rejected: list[Rejected]) -> tuple[pa.Table, Any]:
        """Every buffered chunk in the table's schema (created or evolved first), concatenated.

        Chunks are aligned one by one: after a mid-stream SCHEMA change they may differ, and the
        table's types win (values that do not fit are rejected, never silently dropped)."""
        chunks = self._chunks
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
        return pa.concat_tables(aligned), table

    def _reset(self) -> None:
        self._chunks, self._rejected, self._pending, self._pending_lines = [], [], [], []
        self.buffered_rows = self.buffered_bytes = 0
        self.buffered_since = None

    def _log_commit(
        self, table: Any, rows: int, rejected: int, dead_letter_path: str | None, seconds: float
    ) -> None:
        snapshot = table.current_snapshot() if table is not None else None
        if table is not None and self.writer.settings.branch:
            snapshot = table.snapshot_by_name(self.writer.settings.branch) or snapshot
        self.logger.info(
            "%s %s",
            COMMIT_LOG_PREFIX,
            json.dumps(
                {
                    "stream": self.stream_name,
                    "table": self.writer.settings.identifier,
                    "rows": rows,
                    "total_rows": self._committed_rows,
                    "write_mode": self.writer.settings.write_mode,
                    "dead_letter_rows": rejected,
                    "dead_letter_path": dead_letter_path,
                    "snapshot_id": snapshot.snapshot_id if snapshot else None,
                    "metadata_location": table.metadata_location if table is not None else None,
                    "seconds": round(seconds, 3),
                }
            ),
        )

    def activate_version(self, new_version: int) -> None:
        """ACTIVATE_VERSION: the stream is a full replace, committed at end of input. Arriving
        after this run already committed rows (a tap that sends it only at the end), it is
        ignored: replacing then would drop the rows this run committed."""
        settings = self.writer.settings
        if settings.write_mode == "overwrite":
            return
        if self._committed_rows:
            self.logger.warning(
                "ACTIVATE_VERSION for %s after rows were committed: ignored", self.stream_name
            )
            return
        self.logger.info("ACTIVATE_VERSION for %s: this run replaces the table", self.stream_name)
        settings.write_mode = "overwrite"
