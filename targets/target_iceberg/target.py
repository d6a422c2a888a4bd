"""TargetIceberg: the singer-sdk Target class and the `target-iceberg` console script.

Commits happen at STATE boundaries: when a STATE message arrives and a stream's buffer is due
(rows, bytes or age), every stream is committed with that STATE in its snapshot summary and the
STATE is then emitted. Records that arrived after the last STATE are never committed under it,
so a crash at any point followed by a rerun from the table's bookmark neither loses nor
duplicates rows. A tap that sends no STATE for far longer than the thresholds is committed anyway
(with a warning), to bound memory.
"""

from __future__ import annotations

import copy
import time
from functools import cached_property
from typing import Any, cast

from pyiceberg.catalog import Catalog
from singer_sdk import Target
from singer_sdk.sinks import Sink

from dativo_singer.cli import run_plugin_cli
from target_iceberg.catalog import open_catalog
from target_iceberg.reader import FastSingerReader
from target_iceberg.settings import (
    CONFIG_SCHEMA,
    DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_ROWS,
    DEFAULT_BATCH_SECONDS,
)
from target_iceberg.sink import IcebergSink

# Without a STATE message the buffer still has to be committed at some point (memory): at this
# many times the byte threshold, or many times the row threshold, whichever comes first.
HARD_LIMIT_BYTES_FACTOR = 2
HARD_LIMIT_ROWS_FACTOR = 20


class TargetIceberg(Target):
    """Writes Singer streams to Iceberg tables in any pyiceberg catalog."""

    name = "target-iceberg"
    package_name = "dativo-ingest"
    default_sink_class = IcebergSink
    message_reader_class = FastSingerReader
    config_jsonschema = CONFIG_SCHEMA

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.latest_state: dict[str, Any] | None = None
        self.bookmark_properties: dict[str, list[str] | None] = {}
        self._due_rows = int(self.config.get("batch_size_rows") or DEFAULT_BATCH_ROWS)
        self._due_bytes = int(self.config.get("batch_size_bytes") or DEFAULT_BATCH_BYTES)
        self._due_seconds = float(self.config.get("batch_seconds") or DEFAULT_BATCH_SECONDS)
        self._fast_path = not self.config.get("stream_maps")
        self._warned_no_state = False
        self._emitted_state: dict[str, Any] | None = None
        if self._fast_path:
            cast(FastSingerReader, self.message_reader).record_lines_callback = self._process_record_lines

    @cached_property
    def catalog(self) -> Catalog:
        """The Iceberg catalog, opened on first use."""
        return open_catalog(dict(self.config))

    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict | None = None,
        schema: dict | None = None,
        key_properties: Any = None,
    ) -> Sink:
        """The stream's sink; a changed SCHEMA updates it in place (its buffer is kept)."""
        existing = self._sinks_active.get(stream_name)
        if (
            existing is not None
            and schema is not None
            and (
                existing.original_schema != schema
                or list(existing.key_properties) != list(key_properties or [])
            )
        ):
            cast(IcebergSink, existing).update_schema(schema, list(key_properties or []))
            return existing
        return super().get_sink(stream_name, record=record, schema=schema, key_properties=key_properties)

    def _sinks(self) -> list[IcebergSink]:
        return [cast(IcebergSink, s) for s in self._sinks_active.values()]

    # Messages

    def _process_schema_message(self, message_dict: dict) -> None:
        self.bookmark_properties[message_dict.get("stream", "")] = message_dict.get("bookmark_properties")
        super()._process_schema_message(message_dict)

    def _process_record_message(self, message_dict: dict) -> None:
        if not self._fast_path:
            super()._process_record_message(message_dict)
            return
        sink = self._sink_of(message_dict.get("stream"))
        reader = cast(FastSingerReader, self.message_reader)
        sink.add(message_dict["record"], reader.current_line_bytes)
        self._check_hard_limit(sink)

    def _process_record_lines(self, stream: str, lines: list[bytes], nbytes: int) -> None:
        """Raw RECORD lines of one stream, in order (see FastSingerReader)."""
        sink = self._sink_of(stream)
        sink.add_lines(lines, nbytes)
        self._check_hard_limit(sink)

    def _sink_of(self, stream: Any) -> IcebergSink:
        sink = self._sinks_active.get(stream)
        if sink is None:
            self._assert_sink_exists(str(stream))  # raises: a RECORD before its SCHEMA
        return cast(IcebergSink, sink)

    def _check_hard_limit(self, sink: IcebergSink) -> None:
        if sink.buffered_rows < HARD_LIMIT_ROWS_FACTOR * self._due_rows and (
            sink.buffered_bytes < HARD_LIMIT_BYTES_FACTOR * self._due_bytes
        ):
            return
        if not self._warned_no_state:
            self.logger.warning(
                "No STATE message for %d buffered rows of %s: committing without a bookmark "
                "boundary (a rerun after a crash may repeat these rows)",
                sink.buffered_rows,
                sink.stream_name,
            )
            self._warned_no_state = True
        self._flush_all(emit_state=False)

    def _process_state_message(self, message_dict: dict) -> None:
        self._assert_line_requires(message_dict, requires={"value"})
        self.latest_state = message_dict["value"]
        if self._any_due():
            self._flush_all()

    def _process_activate_version_message(self, message_dict: dict) -> None:
        sink = self._sinks_active.get(message_dict["stream"])
        if sink is not None:
            sink.activate_version(message_dict["version"])

    def _any_due(self) -> bool:
        now = time.monotonic()
        for sink in self._sinks():
            if sink.buffered_rows >= self._due_rows or sink.buffered_bytes >= self._due_bytes:
                return True
            if sink.buffered_since is not None and now - sink.buffered_since >= self._due_seconds:
                return True
        return False

    def _flush_all(self, *, emit_state: bool = True) -> None:
        state = copy.deepcopy(self.latest_state)
        for sink in self._sinks():
            sink.flush(state)
        # A stream being replaced (overwrite) has nothing durable until the end: no STATE yet.
        if emit_state and not any(s.writer.staging for s in self._sinks()):
            self._emit_state(state)

    def _emit_state(self, state: dict[str, Any] | None) -> None:
        """Write STATE (once per distinct value) now that what it covers is committed."""
        if state is not None and state != self._emitted_state:
            self._write_state_message(state)
            self._emitted_state = state

    def process_endofpipe(self) -> None:
        """End of input: commit every stream (and every staged replace) with the last STATE,
        then emit it."""
        state = copy.deepcopy(self.latest_state)
        for sink in self._sinks():
            sink.flush(state)
            sink.finish(state)
        self._emit_state(state)
        for sink in self._sinks():
            sink.clean_up()


def main() -> None:
    """Console script `target-iceberg`."""
    run_plugin_cli("target-iceberg", TargetIceberg.cli)
