"""CSVStream: one Singer stream per configured object, read from one or more files."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from singer_sdk import Tap
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import Stream

from dativo_singer.errors import DataValueError, FatalError
from tap_csv.files import FileSpec, fingerprint, resolve_paths, source_name
from tap_csv.header import check_against_schema, check_names, match_name
from tap_csv.reader import CSVFile
from tap_csv.values import converter_for, is_nullable

FILES_STATE_KEY = "files"
SOURCE_FILE = "_sdc_source_file"
SOURCE_LINE = "_sdc_source_lineno"
# Set on every record: the file (relative to base_dir when inside it) and the physical line the
# record starts on, so a dead-letter entry or a downstream row says where it came from.
METADATA_PROPERTIES: dict[str, Any] = {
    SOURCE_FILE: {"type": ["string", "null"]},
    SOURCE_LINE: {"type": ["integer", "null"]},
}


class CSVStream(Stream):
    """Rows of the CSV files configured for one object, typed by the object's JSON Schema.

    Incremental by file: the stream state remembers each file's size and modification time,
    and a file whose fingerprint is unchanged is skipped on the next run. The catalog still
    says FULL_TABLE: singer-sdk requires a replication key for INCREMENTAL, and no column orders
    the rows (a key such as `_sdc_source_file` would also become SCHEMA `bookmark_properties`,
    which makes target-iceberg merge instead of append). See docs/CSV.md.
    """

    # `tap_csv.values` already turns each cell into its JSON value; singer-sdk's per-property
    # conformance pass would only cost time (about a fifth of the run on a 500k-row file).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(
        self,
        tap: Tap,
        name: str,
        schema: dict[str, Any],
        specs: list[FileSpec],
        key_properties: list[str],
        base_dir: str | None,
    ) -> None:
        self._specs = specs
        self._base_dir = base_dir
        self._checked = False  # files checked before the first record (see _check_all_streams_once)
        self._columns = [c for c in schema.get("properties", {}) if c not in METADATA_PROPERTIES]
        schema = {**schema, "properties": {**schema.get("properties", {}), **METADATA_PROPERTIES}}
        super().__init__(tap=tap, schema=schema, name=name)
        self.primary_keys = key_properties

    @property
    def emit_activate_version_messages(self) -> bool:
        """Never: an ACTIVATE_VERSION would tell a target to drop the rows of files skipped as
        unchanged, which this stream does not re-read."""
        return False

    def _files(self) -> Iterator[tuple[FileSpec, Path]]:
        for spec in self._specs:
            paths = resolve_paths(spec.path, self._base_dir)
            if not paths:
                raise FatalError(
                    f"{spec.setting}.path: no file matches {spec.path!r} (object {spec.object!r})"
                )
            for path in paths:
                yield spec, path

    @contextmanager
    def _open(self, spec: FileSpec, path: Path) -> Iterator[CSVFile]:
        """Open a file and check its header against the schema (see `tap_csv.header`)."""
        with CSVFile(spec, path) as file:
            if not spec.columns:
                check_names(file)
            check_against_schema(file, self._columns, self.schema.get("required") or ())
            yield file

    def _unchanged_and_done(self, path: Path) -> bool:
        entry = self.stream_state.get(FILES_STATE_KEY, {}).get(str(path.resolve())) or {}
        current = fingerprint(path)
        return bool(entry.get("done")) and {k: entry.get(k) for k in current} == current

    def check_files(self) -> None:
        """Check every file the stream will read (it exists, is text, has a usable header);
        reading may still meet a bad line further down."""
        for spec, path in self._files():
            if not self._unchanged_and_done(path):
                with self._open(spec, path):
                    pass

    def _check_all_streams_once(self) -> None:
        """Before the first record of the run, check the files of every selected CSV stream,
        so a bad header or a binary file stops the run before anything is written."""
        tap_streams = self._tap.streams.values()
        if any(s._checked for s in tap_streams if isinstance(s, CSVStream)):
            return
        for stream in tap_streams:
            if isinstance(stream, CSVStream) and stream.selected:
                stream.check_files()
                stream._checked = True

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """Yield typed rows of every new, changed or partly read file.

        The stream state holds, per file, its fingerprint, the data rows already emitted and
        whether it is done; every STATE message the SDK writes carries the exact position."""
        self._check_all_streams_once()
        files: dict[str, Any] = self.stream_state.setdefault(FILES_STATE_KEY, {})
        for spec, path in self._files():
            key = str(path.resolve())
            current = fingerprint(path)
            entry = files.get(key) or {}
            same = {k: entry.get(k) for k in current} == current
            if same and entry.get("done"):
                self.logger.info("Skipping unchanged file %s", path)
                continue
            skip = int(entry.get("rows") or 0) if same else 0
            entry = {**current, "rows": skip, "done": False}
            files[key] = entry
            self.logger.info("Reading %s%s", path, f" from data row {skip + 1}" if skip else "")
            for record in self._read_file(spec, path, skip):
                entry["rows"] += 1
                yield record
            entry["done"] = True

    def _read_file(self, spec: FileSpec, path: Path, skip: int) -> Iterator[dict[str, Any]]:
        properties: dict[str, Any] = self.schema["properties"]
        required = set(self.schema.get("required") or ())
        pass_invalid = self.config.get("on_invalid_value") == "pass"
        source = source_name(path, self._base_dir)
        with self._open(spec, path) as file:
            columns = [self._column(name, properties, path) for name in file.header]
            nulls = set(spec.null_values)
            for line, row in itertools.islice(file.rows(), skip, None):
                record: dict[str, Any] = {SOURCE_FILE: source, SOURCE_LINE: line}
                for (name, convert, nullable), text in zip(columns, row, strict=True):
                    if name is None:
                        continue
                    if text in nulls:
                        if (not nullable or name in required) and not pass_invalid:
                            raise DataValueError(str(path), line, name, "empty value in required column")
                        record[name] = None
                        continue
                    try:
                        record[name] = convert(text)
                    except ValueError as exc:
                        if not pass_invalid:
                            raise DataValueError(str(path), line, name, str(exc)) from None
                        record[name] = text  # the target rejects it, with the reason
                yield record

    def _column(self, name: str, properties: dict[str, Any], path: Path) -> tuple[str | None, Any, bool]:
        matched = match_name(name, [c for c in properties if c not in METADATA_PROPERTIES])
        if matched is None:
            self.logger.warning("Column %r of %s is not in the schema; ignored", name, path)
            return None, None, True
        prop = properties[matched]
        return matched, converter_for(prop), is_nullable(prop)
