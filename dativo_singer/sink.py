"""ArrowSink: the record-buffering half of a Dativo target's sink.

Records, raw RECORD lines and BATCH files are buffered as Arrow chunks (converted, column
policies applied, bad records set aside with a reason). At a commit the sink aligns the chunks,
dead-letters the rejects and hands one Arrow batch with the Singer state to ``write``. A target
implements the small interface below; when to commit is decided by ``CommitAtStateTarget``.

Interface for a subclass: ``location`` (where the data lands), ``write`` (commit one batch with
the state), and optionally ``align``, ``finish``, ``record_bookmark``, ``holds_state_back`` and
``write_mode``.
"""

from __future__ import annotations

import copy
import time
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from singer_sdk import Target
from singer_sdk.exceptions import MissingKeyPropertiesError
from singer_sdk.sinks import BatchSink

from dativo_singer.arrow_types import NESTED_AS_JSON
from dativo_singer.batch_files import KeptFile, local_parquet_paths, read_parquet_tables
from dativo_singer.buffer import RecordBuffer
from dativo_singer.commit_report import CommitReport, format_commit_report
from dativo_singer.conversion import RecordConverter, Rejected
from dativo_singer.dead_letter import protect_rejected, write_dead_letters
from dativo_singer.sdk_internals import TimestampsAsSent, set_sink_schema


@dataclass(frozen=True)
class Written:
    """What one ``write``/``finish``/``record_bookmark`` call made durable (or staged)."""

    rows: int
    snapshot_id: int | None = None
    metadata_location: str | None = None
    staged: bool = False  # written, but committed only by ``finish``
    replaced_key_rows: int = 0  # rows of this run replaced by a later row with the same key
    table_rows: int | None = None  # the table's row count after the commit, when known


# The columns of a LOG_BASED stream's change records (docs/CDC.md).
CHANGE_COLUMNS = frozenset({"_sdc_lsn", "_sdc_deleted_at"})


class ArrowSink(TimestampsAsSent, BatchSink):
    """One stream: records → Arrow chunks → (policies) → one ``write`` per commit."""

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict,
        key_properties: list[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self.target = target
        self.committed_rows = 0
        self.rejected_rows = 0  # dead-lettered in this run
        self._keys = frozenset(key_properties or [])
        self.buffer = RecordBuffer(
            # self.schema: the stream's schema as singer-sdk uses it (with the _sdc_* metadata
            # properties when add_record_metadata is set)
            self._new_converter(self.schema, list(key_properties or [])),
            self.column_policies,
            self.config.get("hash_salt") or "",
        )

    @property
    def column_policies(self) -> dict[str, str]:
        """The policies this target applies: none when the values arrive protected already
        (``column_policies_applied``: the tap applied them under `dativo run`)."""
        if self.config.get("column_policies_applied"):
            return {}
        return dict(self.config.get("column_policies") or {})

    # The interface a target implements

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the stream's data lands (table identifier, object prefix), for reports."""

    @property
    def write_mode(self) -> str:
        """append | merge | overwrite, for reports."""
        return "append"

    @property
    def holds_state_back(self) -> bool:
        """True while writes are staged for ``finish`` (a full replace): no STATE may be emitted."""
        return False

    def due_rows(self, rows: int) -> int:
        """Buffered rows that make the stream due at a STATE, given ``batch_size_rows``."""
        return rows

    def align(self, chunks: list[pa.Table], rejected: list[Rejected]) -> pa.Table:
        """One batch from the buffered chunks (append rows that cannot be written to
        ``rejected``). Default: chunks concatenated, schemas unified."""
        return pa.concat_tables(chunks, promote_options="default")

    @abstractmethod
    def write(self, data: pa.Table, state: dict[str, Any] | None) -> Written:
        """Make ``data`` durable together with ``state`` (or stage it, see ``holds_state_back``)."""

    def finish(self, state: dict[str, Any] | None) -> Written | None:
        """End of input: commit what was staged. Default: nothing staged."""
        return None

    def take_file(self, path: str) -> KeptFile | None:
        """A local Parquet BATCH file this target commits as it is, without reading its rows, or
        None to have it read and converted like any other (the default)."""
        return None

    def keeps_files(self, chunks: list[pa.Table], files: list[KeptFile]) -> bool:
        """At a commit: True when ``files`` are committed as they are next to ``chunks`` (by
        ``write_with_files``); otherwise they are read and converted in their place. Default:
        False, so a target commits kept files only where it says it can."""
        return False

    def write_with_files(
        self, data: pa.Table | None, state: dict[str, Any] | None, files: list[KeptFile]
    ) -> Written | None:
        """``write`` of ``data`` and the kept ``files`` in one commit; called with files only
        when ``keeps_files`` said True (a target overriding it overrides this too). Default:
        ``write`` of ``data``, None when it has no rows."""
        return self.write(data, state) if data is not None and data.num_rows else None

    def discard_files(self, files: list[KeptFile]) -> None:
        """Kept files that will not be committed (dropped or read after all): undo their
        placing. Default: nothing placed."""

    def record_bookmark(self, state: dict[str, Any]) -> Written | None:
        """Store ``state`` where the data is, with no rows (nothing new arrived before it).
        Returns None when nothing was written (already held, or no place to keep it yet)."""
        return None

    # Buffering

    def kept_metadata_columns(self, schema: dict) -> frozenset[str]:
        """``_sdc_`` columns this target keeps in its tables even without
        ``add_record_metadata``: a change stream's ``_sdc_lsn`` and ``_sdc_deleted_at`` (they are
        the change, docs/CDC.md)."""
        return CHANGE_COLUMNS if set(schema.get("properties") or {}) >= CHANGE_COLUMNS else frozenset()

    def _new_converter(self, schema: dict, key_properties: list[str]) -> RecordConverter:
        # singer-sdk takes its record-metadata names (``_sdc_deleted_at``) out of ``schema``:
        # the kept ones come back from the schema as sent.
        sent = getattr(self, "original_schema", None) or schema
        keep = self.kept_metadata_columns(sent)
        present, given = schema.get("properties") or {}, sent.get("properties") or {}
        restored = {name: given[name] for name in sorted(keep) if name in given and name not in present}
        if restored:
            schema = {**schema, "properties": {**present, **restored}}
        return RecordConverter(
            schema,
            key_properties,
            nested=self.config.get("nested") or NESTED_AS_JSON,
            strict=self.config.get("schema_mode") == "strict",
            keep_metadata=bool(self.config.get("add_record_metadata")),
            keep_columns=keep,
        )

    def get_validator(self) -> None:
        """No per-record JSON Schema validation: values are checked per chunk in Arrow."""
        return None

    @property
    def is_full(self) -> bool:
        """Never: the target commits at STATE boundaries."""
        return False

    def add(self, record: dict[str, Any], nbytes: int) -> None:
        """Buffer one record (``nbytes``: its message size, for the byte threshold)."""
        if not self._keys <= record.keys():
            raise MissingKeyPropertiesError(
                f"Record of {self.stream_name} lacks key properties {sorted(self._keys - record.keys())}"
            )
        self.buffer.add(record, nbytes)

    def add_lines(self, lines: Sequence[bytes], nbytes: int) -> None:
        """Buffer raw RECORD message lines (parsed in bulk at conversion)."""
        self.buffer.add_lines(lines, nbytes)

    def process_record(self, record: dict, context: dict) -> None:
        """SDK path (stream maps, flattening, record metadata): buffer the record, counting its
        message's size towards ``batch_size_bytes``."""
        self.add(record, getattr(self.target.message_reader, "current_line_bytes", 0))

    def process_batch(self, context: dict) -> None:
        """SDK hand-off (BATCH files it decoded): buffer, never commit here."""
        for record in context.get("records") or []:
            self.add(record, 0)

    def process_batch_files(self, encoding: Any, files: Sequence[str]) -> None:
        """BATCH messages: local Parquet files go to Arrow directly; anything else the SDK reads."""
        paths = local_parquet_paths(encoding, files)
        if paths is None:
            super().process_batch_files(encoding, files)
            return
        for path in paths:
            kept = self.take_file(path)
            if kept is not None:
                self.buffer.add_file(kept)
                continue
            for table in read_parquet_tables([path]):
                self.buffer.add_table(table)

    def update_schema(self, schema: dict, key_properties: list[str]) -> None:
        """A new SCHEMA mid-stream: convert what is buffered with the old one, then switch."""
        self.original_schema = copy.deepcopy(schema)
        set_sink_schema(self, copy.deepcopy(schema), key_properties)
        self.buffer.set_converter(self._new_converter(self.schema, key_properties))
        self._keys = frozenset(key_properties)

    # Committing

    def flush(self, state: dict[str, Any] | None) -> bool:
        """Commit everything buffered with ``state``; dead-letter rejects first. True when rows
        were written (committed or staged)."""
        if self.buffer.empty:
            self.buffer.take()
            return False
        started = time.monotonic()
        chunks, rejected, files = self.buffer.take()
        if files and not self.keeps_files(chunks, files):
            chunks = self._read_kept_files(chunks, rejected, files)
            files = []
        data = self.align(chunks, rejected) if chunks else None
        dead_letter_path = self._dead_letter(rejected)
        written = self.write_with_files(data, state, files)
        if written is not None and written.staged:
            self.logger.info(
                "Staged %d rows of %s for the replace at end of input", written.rows, self.stream_name
            )
            if rejected or written.replaced_key_rows:  # the runner counts these from reports
                replaced = Written(0, replaced_key_rows=written.replaced_key_rows)
                self.report(replaced, len(rejected), dead_letter_path, 0.0)
        elif written is not None or rejected:
            self.report(written or Written(0), len(rejected), dead_letter_path, time.monotonic() - started)
        return written is not None

    def _read_kept_files(
        self, chunks: list[pa.Table], rejected: list[Rejected], files: list[KeptFile]
    ) -> list[pa.Table]:
        """The kept files read and converted as any BATCH file, each at its place among the
        chunks (the order of rows is the order they arrived in)."""
        self.discard_files(files)
        ordered: list[pa.Table] = []
        done = 0
        for file in files:
            ordered.extend(chunks[done : file.position])
            done = max(done, file.position)
            for table in read_parquet_tables([file.path]):
                converted, rejects = self.buffer.converter.convert_table(table)
                if converted.num_rows:
                    ordered.append(converted)
                rejected.extend(rejects)
        ordered.extend(chunks[done:])
        return ordered

    def finish_stream(self, state: dict[str, Any] | None) -> bool:
        """End of input: ``finish`` and report. True when rows were committed."""
        started = time.monotonic()
        written = self.finish(state)
        if written is None:
            return False
        self.report(written, 0, None, time.monotonic() - started)
        return True

    def commit_bookmark(self, state: dict[str, Any]) -> None:
        """``record_bookmark`` (never while a replace is staged), reported when it committed."""
        if self.holds_state_back:
            return
        started = time.monotonic()
        written = self.record_bookmark(state)
        if written is not None:
            self.report(written, 0, None, time.monotonic() - started)

    def _dead_letter(self, rejected: list[Rejected]) -> str | None:
        if not rejected:
            return None
        folder = self.config.get("dead_letter_dir") or "dead_letter"
        rejected = protect_rejected(rejected, self.column_policies, self.config.get("hash_salt") or "")
        path = str(write_dead_letters(folder, self.stream_name, rejected))
        self.rejected_rows += len(rejected)
        self.logger.warning(
            "%d record(s) of %s rejected, written to %s (first reason: %s)",
            len(rejected),
            self.stream_name,
            path,
            rejected[0].reason,
        )
        return path

    def report(self, written: Written, rejected: int, dead_letter_path: str | None, seconds: float) -> None:
        """Log the commit report line (stderr) for the runner."""
        if not written.staged:
            self.committed_rows += written.rows
        report = CommitReport(
            stream=self.stream_name,
            table=self.location,
            rows=0 if written.staged else written.rows,
            total_rows=self.committed_rows,
            write_mode=self.write_mode,
            dead_letter_rows=rejected,
            dead_letter_path=dead_letter_path,
            replaced_key_rows=written.replaced_key_rows,
            snapshot_id=written.snapshot_id,
            metadata_location=written.metadata_location,
            seconds=seconds,
            table_rows=written.table_rows,
        )
        self.logger.info("%s", format_commit_report(report))
