"""MarkdownKVStream: one Singer stream per configured object, incremental by file."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from singer_sdk import Tap
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import Stream

from dativo_singer.batch_records import RecordBatches
from dativo_singer.source_files import (
    FILES_STATE_KEY,
    METADATA_PROPERTIES,
    SOURCE_FILE,
    SOURCE_LINE,
    SOURCE_VERSION,
)
from tap_markdown_kv.storage import FileContent, RowBuilder
from tap_markdown_kv.stores import files_of


class MarkdownKVStream(RecordBatches, Stream):
    """The rows of one object's Markdown-KV files in its storage pattern.

    Incremental by file like tap-csv: the state keeps each file's size, modification time,
    SHA-256, content version, rows emitted and whether it was read to the end. An unchanged file
    is skipped, a touched one (same SHA-256) too; an interrupted one resumes after its last row;
    a changed one is read again under a new ``_sdc_source_version`` (the first 16 hex digits of
    its SHA-256), and target-iceberg replaces its earlier rows. See docs/MARKDOWN_KV_STORAGE.md.
    """

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # values are typed by RowBuilder

    def __init__(
        self,
        tap: Tap,
        name: str,
        schema: dict[str, Any],
        entries: list[tuple[int, dict[str, Any]]],
        storage: str,
        key_properties: list[str],
    ) -> None:
        self._entries = entries
        self._storage = storage
        schema = {**schema, "properties": {**schema.get("properties", {}), **METADATA_PROPERTIES}}
        super().__init__(tap=tap, schema=schema, name=name)
        self.primary_keys = key_properties

    @property
    def emit_activate_version_messages(self) -> bool:
        """Never: it would drop the rows of files skipped as unchanged."""
        return False

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """Rows of every new, changed or partly read file."""
        unrendered = (self.config.get("unrendered_columns") or {}).get(self.name) or []
        on_invalid = self.config.get("on_invalid_value") or "fail"
        builder = RowBuilder(
            self._storage, self.schema, on_invalid, self.logger.warning, frozenset(unrendered)
        )
        states: dict[str, Any] = self.stream_state.setdefault(FILES_STATE_KEY, {})
        for store, file in files_of(self.name, self._entries, dict(self.config)):
            entry = states.get(file.key) or {}
            current = file.fingerprint()
            same = {k: entry.get(k) for k in current} == current
            if same and entry.get("done"):
                self.logger.info("Skipping unchanged file %s", file.name)
                continue
            data = store.read(file)
            checksum = hashlib.sha256(data).hexdigest()
            if entry.get("checksum") == checksum and entry.get("done"):
                self.logger.info("Skipping %s: touched, content unchanged", file.name)
                entry.update(current)
                continue
            skip = int(entry.get("rows") or 0) if entry.get("checksum") == checksum else 0
            version = checksum[:16]
            entry = {**current, "checksum": checksum, "version": version, "rows": skip, "done": False}
            states[file.key] = entry
            self.logger.info("Reading %s%s", file.name, f" from row {skip + 1}" if skip else "")
            content = FileContent(file.name, data, checksum, file.mtime_ns)
            for index, (line, row) in enumerate(builder.rows(content)):
                if index < skip:
                    continue
                entry["rows"] = index + 1
                yield {**row, SOURCE_FILE: file.name, SOURCE_LINE: line, SOURCE_VERSION: version}
            entry["done"] = True
