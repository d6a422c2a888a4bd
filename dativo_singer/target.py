"""CommitAtStateTarget: commits at STATE boundaries, emits STATE only after the commit.

When a STATE message arrives and a stream's buffer is due (rows, bytes or age), every stream is
committed with that STATE and the STATE is then emitted (once per distinct value). Streams that
had nothing to commit record the STATE alone (``ArrowSink.record_bookmark``), so the place the
data lands never holds an older bookmark than the one emitted. Before end of input, records that
arrived after the last STATE are never committed under it, so a crash at any point followed by a
rerun from the emitted state neither loses nor duplicates rows. A tap that sends no STATE for far
longer than the thresholds is committed anyway (with a warning), to bound memory.

A clean end of input commits everything received, with the last STATE (Singer's convention; a
tap may send its last STATE long before its last record). ``commit_records_after_last_state:
false`` (what ``dativo run`` sets, see docs/SINGER_INTEROP.md) commits only what a STATE covers.

RECORD lines in singer-sdk's compact form are handed over in bulk by ``FastSingerReader`` and
parsed by Arrow. That fast path is taken only when nothing in singer-sdk's record pipeline would
change a record (no stream maps, flattening off, add_record_metadata off); otherwise every record,
including those of BATCH files, goes through the SDK (mapper → metadata → ``process_record``).

At end of input the last log line counts the rejected records and names the dead-letter folder;
with ``fail_on_rejects`` the target then exits 1 (partial success: the rest is committed).
"""

from __future__ import annotations

import copy
import gzip
import os
import sys
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any, ClassVar, cast

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from singer_sdk import Target
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities
from singer_sdk.sinks import Sink

from dativo_singer.batch_files import local_parquet_paths, read_parquet_tables
from dativo_singer.errors import FatalError
from dativo_singer.reader import FastSingerReader
from dativo_singer.sdk_internals import (
    BaseBatchFileEncoding,
    ConfigCheck,
    MessageHooks,
    StopAtOnce,
    StorageTarget,
    active_sinks,
    require_fields,
    require_sink,
    write_target_state,
)
from dativo_singer.settings import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_ROWS,
    DEFAULT_BATCH_SECONDS,
    refuse_unsupported_settings,
)
from dativo_singer.sink import ArrowSink

# Without a STATE message the buffer still has to be committed at some point (memory): at this
# many times the byte threshold, or many times the row threshold, whichever comes first.
HARD_LIMIT_BYTES_FACTOR = 2
HARD_LIMIT_ROWS_FACTOR = 20


class CommitAtStateTarget(StopAtOnce, ConfigCheck, MessageHooks, Target):
    """Base of Dativo targets: subclasses set ``default_sink_class`` to an ``ArrowSink``."""

    message_reader_class = FastSingerReader
    # SIGTERM/SIGINT: nothing more is committed (singer-sdk would drain every sink and exit 0,
    # committing records no STATE covers); a rerun from the last emitted STATE continues exactly.
    termination_note = "stopping without committing the records buffered since the last commit"
    # What a Dativo target really does (validate-records is not: values are checked as they are
    # converted to Arrow, and rejects dead-lettered rather than failing the run).
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.ACTIVATE_VERSION,
        PluginCapabilities.BATCH,
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        refuse_unsupported_settings(self.config)
        self.latest_state: dict[str, Any] | None = None
        self.bookmark_properties: dict[str, list[str] | None] = {}
        self._due_rows = int(self.config.get("batch_size_rows") or DEFAULT_BATCH_ROWS)
        self._due_bytes = int(self.config.get("batch_size_bytes") or DEFAULT_BATCH_BYTES)
        self._due_seconds = float(self.config.get("batch_seconds") or DEFAULT_BATCH_SECONDS)
        self._fast_path = not self.records_need_sdk_pipeline
        self._warned_no_state = False
        self._emitted_state: dict[str, Any] | None = None
        if self._fast_path:
            cast(FastSingerReader, self.message_reader).record_lines_callback = self._process_record_lines

    @property
    def records_need_sdk_pipeline(self) -> bool:
        """True when singer-sdk's record steps would change a record: stream maps, flattening,
        record metadata. Then records cannot be parsed in bulk by Arrow."""
        config = self.config
        return bool(
            config.get("stream_maps") or config.get("flattening_enabled") or config.get("add_record_metadata")
        )

    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict | None = None,
        schema: dict | None = None,
        key_properties: Any = None,
    ) -> Sink:
        """The stream's sink; a changed SCHEMA updates it in place (its buffer is kept)."""
        existing = active_sinks(self).get(stream_name)
        if (
            existing is not None
            and schema is not None
            and (
                existing.original_schema != schema
                or list(existing.key_properties) != list(key_properties or [])
            )
        ):
            self._check_keys(stream_name, key_properties)
            cast(ArrowSink, existing).update_schema(schema, list(key_properties or []))
            return existing
        if schema is not None:
            self._check_keys(stream_name, key_properties)
        return super().get_sink(stream_name, record=record, schema=schema, key_properties=key_properties)

    def _check_keys(self, stream_name: str, key_properties: Any) -> None:
        if self.config.get("load_method") == "upsert" and not key_properties:
            raise FatalError(
                f"stream '{stream_name}' has no key properties: load_method 'upsert' "
                "(write_mode merge) needs them"
            )

    def _sinks(self) -> list[ArrowSink]:
        return [cast(ArrowSink, s) for s in active_sinks(self).values()]

    # Messages

    def on_schema_message(self, message_dict: dict) -> None:
        self.bookmark_properties[message_dict.get("stream", "")] = message_dict.get("bookmark_properties")
        super().on_schema_message(message_dict)

    def on_record_message(self, message_dict: dict) -> None:
        if not self._fast_path:
            super().on_record_message(message_dict)
            for stream_map in self.mapper.stream_maps.get(message_dict["stream"], []):
                if (sink := active_sinks(self).get(stream_map.stream_alias)) is not None:
                    self._check_hard_limit(cast(ArrowSink, sink))
            return
        sink = self._sink_of(message_dict.get("stream"))
        reader = cast(FastSingerReader, self.message_reader)
        sink.add(message_dict["record"], reader.current_line_bytes)
        self._check_hard_limit(sink)

    def _process_record_lines(self, stream: str, lines: Sequence[bytes], nbytes: int) -> None:
        """Raw RECORD lines of one stream, in order (see FastSingerReader)."""
        sink = self._sink_of(stream)
        sink.add_lines(lines, nbytes)
        self._check_hard_limit(sink)

    def _sink_of(self, stream: Any) -> ArrowSink:
        sink = active_sinks(self).get(stream)
        if sink is None:
            require_sink(self, str(stream))  # raises: a RECORD before its SCHEMA
        return cast(ArrowSink, sink)

    def _check_hard_limit(self, sink: ArrowSink) -> None:
        buffer = sink.buffer
        if buffer.rows < HARD_LIMIT_ROWS_FACTOR * self._due_rows and (
            buffer.nbytes < HARD_LIMIT_BYTES_FACTOR * self._due_bytes
        ):
            return
        if not self._warned_no_state:
            self.logger.warning(
                "No STATE message for %d buffered rows of %s: committing without a bookmark "
                "boundary (a rerun after a crash may repeat these rows)",
                buffer.rows,
                sink.stream_name,
            )
            self._warned_no_state = True
        self._flush_all(emit_state=False)

    def on_state_message(self, message_dict: dict) -> None:
        require_fields(self, message_dict, {"value"})
        self.latest_state = message_dict["value"]
        for sink in self._sinks():
            sink.buffer.mark_covered()
        if self._any_due():
            self._flush_all()

    def on_activate_version_message(self, message_dict: dict) -> None:
        if self.config.get("process_activate_version_messages") is False:
            self.logger.info(
                "ACTIVATE_VERSION for %s ignored (process_activate_version_messages: false)",
                message_dict["stream"],
            )
            return
        sink = active_sinks(self).get(message_dict["stream"])
        if sink is not None:
            sink.activate_version(message_dict["version"])

    def on_batch_message(self, message_dict: dict) -> None:
        """BATCH: files go to the sink in bulk, unless records need the SDK's record steps
        (stream maps, flattening, metadata): then each record of the files goes through them."""
        if self._fast_path:
            super().on_batch_message(message_dict)
            return
        stream = message_dict["stream"]
        encoding = BaseBatchFileEncoding.from_dict(message_dict["encoding"])
        reader = cast(FastSingerReader, self.message_reader)
        reader.current_line_bytes = 0  # the rows of the files count, not the BATCH line's size
        for record in _batch_file_records(encoding, message_dict["manifest"]):
            self.on_record_message({"type": "RECORD", "stream": stream, "record": record})

    # Committing

    def _any_due(self) -> bool:
        now = time.monotonic()
        for sink in self._sinks():
            buffer = sink.buffer
            if buffer.rows >= sink.due_rows(self._due_rows) or buffer.nbytes >= self._due_bytes:
                return True
            if buffer.since is not None and now - buffer.since >= self._due_seconds:
                return True
        return False

    def _flush_all(self, *, emit_state: bool = True) -> None:
        state = copy.deepcopy(self.latest_state)
        idle = [sink for sink in self._sinks() if not sink.flush(state)]
        # A stream being replaced (overwrite) has nothing durable until the end: no STATE yet.
        if emit_state and not any(s.holds_state_back for s in self._sinks()):
            self._emit_state(state, idle)

    def _emit_state(self, state: dict[str, Any] | None, idle: list[ArrowSink]) -> None:
        """Write STATE (once per distinct value) now that what it covers is committed; streams
        that committed nothing under it record it alone first."""
        if state is None or state == self._emitted_state:
            return
        for sink in idle:
            sink.commit_bookmark(state)
        write_target_state(self, state)
        self._emitted_state = state

    def process_endofpipe(self) -> None:
        """End of input: commit every stream (and every staged replace) with the last STATE,
        then emit it. With ``commit_records_after_last_state: false`` records after the last
        STATE are dropped instead and the target exits 2 naming them (the committed part and
        its STATE stand; a rerun from that STATE reads them again)."""
        state = copy.deepcopy(self.latest_state)
        dropped = self._drop_uncovered() if self.config.get("commit_records_after_last_state") is False else 0
        idle = []
        for sink in self._sinks():
            flushed = sink.flush(state)
            finished = sink.finish_stream(state)
            if not (flushed or finished):
                idle.append(sink)
        self._emit_state(state, idle)
        for sink in self._sinks():
            sink.clean_up()
        self._report_rejects(may_exit=not dropped)  # the dropped records are the worse news
        if dropped:
            raise FatalError(
                f"{dropped} record(s) came after the last STATE and were not committed "
                "(commit_records_after_last_state is false): the input ended without a STATE "
                "covering them; a rerun from the last STATE reads them again"
            )

    def _drop_uncovered(self) -> int:
        """Drop every stream's records after the last STATE (and their kept files); how many."""
        total = 0
        for sink in self._sinks():
            dropped, files = sink.buffer.drop_uncovered()
            sink.discard_files(files)
            if dropped:
                self.logger.warning(
                    "%d record(s) of %s came after the last STATE and were not committed",
                    dropped,
                    sink.stream_name,
                )
            total += dropped
        return total

    def _report_rejects(self, *, may_exit: bool = True) -> None:
        """The last log line: how many records were rejected and where the dead letters are;
        with ``fail_on_rejects`` and any reject, exit 1 (everything else is committed)."""
        folder = os.path.abspath(self.config.get("dead_letter_dir") or "dead_letter")
        rejecting = [sink for sink in self._sinks() if sink.rejected_rows]
        if not rejecting:
            self.logger.info("0 record(s) rejected; dead letters would go to %s", folder)
            return
        line = (
            f"{sum(s.rejected_rows for s in rejecting)} record(s) rejected across "
            f"{len(rejecting)} stream(s); dead letters in {folder}"
        )
        if not (self.config.get("fail_on_rejects") and may_exit):
            self.logger.warning("%s", line)
            return
        self.logger.error("%s; exiting 1 (fail_on_rejects): the other rows are committed", line)
        sys.stdout.flush()
        sys.exit(1)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(type(value).__name__)


def _batch_file_records(encoding: BaseBatchFileEncoding, files: Sequence[str]) -> Iterator[dict[str, Any]]:
    """The records of BATCH files as JSON values (as a RECORD message would carry them)."""
    tables: Iterator[pa.Table] | None = None
    paths = local_parquet_paths(encoding, files)
    if paths is not None:
        tables = read_parquet_tables(paths)
    for path in files if tables is None else []:
        head, tail = StorageTarget.split_url(path)
        with StorageTarget.from_url(head).open(tail, mode="rb") as raw:
            if encoding.format == "parquet":
                yield from _json_records(pq.read_table(raw))
                continue
            if encoding.compression == "gzip":
                with gzip.open(raw) as unzipped:
                    yield from (orjson.loads(line) for line in unzipped if line.strip())
            else:
                yield from (orjson.loads(line) for line in raw if line.strip())
    for table in tables or []:
        yield from _json_records(table)


def _json_records(table: pa.Table) -> Iterator[dict[str, Any]]:
    for record in table.to_pylist():
        yield orjson.loads(orjson.dumps(record, default=_json_value))
