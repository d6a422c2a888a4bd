"""CSVStream: one Singer stream per configured object, read from one or more files."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from singer_sdk import Tap
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.helpers.types import TapState
from singer_sdk.streams import Stream

from dativo_singer.batch_emit import ParquetBatchWriter
from dativo_singer.batch_records import RecordBatches
from dativo_singer.errors import DataValueError, FatalError
from dativo_singer.sdk_internals import BaseBatchFileEncoding, BatchConfig, StreamHooks, stream_tap
from dativo_singer.source_files import (
    CONTENT_KEY,
    FILES_STATE_KEY,
    METADATA_PROPERTIES,
    SOURCE_FILE,
    SOURCE_LINE,
    SOURCE_VERSION,
    BackgroundDigest,
    content_digest,
    content_unchanged,
    content_version,
    fingerprint,
    finish_file,
    resolve_paths,
    source_name,
)
from dativo_singer.tap_policy import hide_value, tap_policies
from dativo_singer.text_values import converter_for, is_nullable
from tap_csv.batches import arrow_batches
from tap_csv.digest import RowDigest
from tap_csv.files import FileSpec
from tap_csv.header import check_against_schema, check_names, match_name
from tap_csv.reader import CSVFile


class CSVStream(RecordBatches, StreamHooks, Stream):
    """Rows of the CSV files configured for one object, typed by the object's JSON Schema.

    Incremental by file: the stream state remembers each file's size and modification time,
    and a file whose fingerprint is unchanged is skipped on the next run. The catalog still
    says FULL_TABLE: singer-sdk requires a replication key for INCREMENTAL, and no column orders
    the rows (a key such as `_sdc_source_file` would also become SCHEMA `bookmark_properties`,
    which makes target-iceberg merge instead of append). See docs/CSV.md.
    """

    # `dativo_singer.text_values` already turns each cell into its JSON value; singer-sdk's per-property
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
        self._reading: tuple[dict[str, Any], RowDigest] | None = None  # the file being read
        self._state_at_cut: TapState | None = None  # the next STATE (see state_at_cut)
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
        tap_streams = stream_tap(self).streams.values()
        if any(s._checked for s in tap_streams if isinstance(s, CSVStream)):
            return
        for stream in tap_streams:
            if isinstance(stream, CSVStream) and stream.selected:
                stream.check_files()
                stream._checked = True

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """Yield typed rows of every new, grown, changed or partly read file.

        The stream state holds, per file, its fingerprint, the data rows already emitted, a
        checksum of those rows, the content version and whether it is done; every STATE message
        the SDK writes carries the exact position. A file whose fingerprint changed is read from
        the start: when its first rows still match the checksum it only grew, and the rows after
        them are emitted under the same version; otherwise every row is emitted under a new
        version (the file was edited)."""
        for spec, path, key, entry, verify in self._files_to_read():
            digest = BackgroundDigest(path)
            yield from self._emit_file(spec, path, key, entry, verify=verify)
            finish_file(entry, path, digest)

    def get_batches(
        self, batch_config: BatchConfig, context: Mapping[str, Any] | None = None
    ) -> Iterable[tuple[BaseBatchFileEncoding, list[str]]]:
        """BATCH mode: with Parquet files, the columnar fast path (``tap_csv.batches``): the same
        rows, values, metadata columns and per-file state as ``get_records``."""
        if batch_config.encoding.format != "parquet":
            yield from super().get_batches(batch_config, context)
            return
        writer = ParquetBatchWriter(
            batch_config,
            tap_name=self.tap_name,
            stream_name=self.name,
            policies=tap_policies(stream_tap(self)),
        )
        yield from writer.manifests(arrow_batches(self, writer.max_rows), cut_state=self.state_at_cut)
        self._state_at_cut = None  # each was written after its BATCH message; never a later STATE

    def _files_to_read(self) -> Iterator[tuple[FileSpec, Path, str, dict[str, Any], bool]]:
        """``(spec, path, key, entry, verify)`` per file to read, its state entry set up: from
        its first row or after the rows already emitted, ``verify`` when a changed file must
        first prove it only grew. The caller sets ``entry["done"]`` once the file is read."""
        self._check_all_streams_once()
        files: dict[str, Any] = self.stream_state.setdefault(FILES_STATE_KEY, {})
        for spec, path in self._files():
            key = str(path.resolve())
            current = fingerprint(path)
            if key not in files and self._loaded_elsewhere(files, key, path, current):
                continue
            entry = files.get(key) or {}
            same = {k: entry.get(k) for k in current} == current
            if same and entry.get("done"):
                if content_unchanged(entry, path):
                    self.logger.info("Skipping unchanged file %s", path)
                    continue
                same = False
                self.logger.info("%s was rewritten with the same size and modification time", path)
            rows = int(entry.get("rows") or 0)
            known = bool(rows and entry.get("version") and entry.get("digest"))
            if not same and not known:
                rows = 0
            entry = {
                **current,
                "rows": rows,
                "version": (entry.get("version") if rows else None) or content_version(key, current),
                "digest": entry.get("digest"),
                "done": False,
            }
            files[key] = entry
            self.logger.info("Reading %s%s", path, f" from data row {rows + 1}" if rows and same else "")
            yield spec, path, key, entry, not same and rows > 0

    def _loaded_elsewhere(self, files: dict[str, Any], key: str, path: Path, current: dict[str, int]) -> bool:
        """True when a file new to the state has the content of a file already read to the end
        (renamed, moved or copied): its state entry is taken over, nothing is read again; a
        renamed file's old entry is dropped."""
        candidates = [
            (other, entry)
            for other, entry in files.items()
            if entry.get("done") and entry.get(CONTENT_KEY) and entry.get("size") == current["size"]
        ]
        if not candidates:
            return False
        digest = content_digest(path)
        for other, entry in candidates:
            if entry[CONTENT_KEY] == digest:
                files[key] = {**entry, **current}
                if not Path(other).exists():
                    del files[other]
                self.logger.info("Skipping %s: same content as %s, already loaded", path, other)
                return True
        return False

    def _emit_file(
        self, spec: FileSpec, path: Path, key: str, entry: dict[str, Any], *, verify: bool
    ) -> Iterator[dict[str, Any]]:
        """Emit the file's rows after ``entry["rows"]``; with ``verify``, only once the rows
        before them match the stored checksum, else every row under a new version."""
        skip = int(entry["rows"])
        try:
            while True:
                digest = RowDigest()
                self._reading = (entry, digest)
                verified = not verify
                for index, record in self._read_file(spec, path, digest, entry["version"], skip):
                    if record is None:  # a row already loaded: checksummed, not emitted
                        if verify and index == skip - 1:
                            verified = digest.hexdigest() == entry["digest"]
                            if not verified:
                                break
                            self.logger.info("%s grew: reading from data row %d", path, skip + 1)
                        continue
                    entry["rows"] = index + 1
                    yield record
                if verified:
                    entry["digest"] = digest.hexdigest()
                    return
                current = fingerprint(path)
                version = content_version(key, current, content_digest(path))
                entry.update(current, rows=0, version=version, digest=None)
                self.logger.info("%s changed: its rows are read again under a new version", path)
                skip, verify = 0, False
        finally:
            self._reading = None

    def state_at_cut(self) -> Callable[[], None]:
        """The tap's state now, for the STATE after a BATCH file written in the background
        (``ParquetBatchWriter.manifests``): what it returns makes the next STATE this one, with
        the checksum of the file being read as of the rows sent so far."""
        memo: dict[int, Any] = {}
        state = copy.deepcopy(self.tap_state, memo)
        reading = None
        if self._reading is not None:
            entry, digest = self._reading
            reading = memo[id(entry)], digest.hexdigest_soon()

        def announce() -> None:
            if reading is not None:
                reading[0]["digest"] = reading[1].result()
            self._state_at_cut = state

        return announce

    def write_state_message(self) -> None:
        """Bring the checksum of the file being read up to the rows already emitted, then write
        (after a BATCH file written in the background: the state when it was cut)."""
        if self._state_at_cut is not None:
            state, self._state_at_cut = self._state_at_cut, None
            stream_tap(self).state_writer.write_state(state)
            return
        if self._reading is not None:
            entry, digest = self._reading
            entry["digest"] = digest.hexdigest()
        super().write_state_message()

    def _read_file(
        self, spec: FileSpec, path: Path, digest: RowDigest, version: str, skip: int
    ) -> Iterator[tuple[int, dict[str, Any] | None]]:
        """``(index, record)`` per data row; rows before ``skip`` are only checksummed
        (``record`` None)."""
        with self._open(spec, path) as file:
            make = self.record_maker(spec, path, file.header, version)
            for index, (line, row) in enumerate(file.rows()):
                digest.add(row)
                if index < skip:
                    yield index, None
                    continue
                yield index, make(line, row)

    def record_maker(
        self, spec: FileSpec, path: Path, header: list[str], version: str, *, warn: bool = True
    ) -> Callable[[int, Sequence[str]], dict[str, Any]]:
        """The function turning one row (its physical line, its cells) into its record: cells
        typed by the schema, null values, the invalid-value rule, the metadata columns."""
        properties: dict[str, Any] = self.schema["properties"]
        required = set(self.schema.get("required") or ())
        pass_invalid = self.config.get("on_invalid_value") == "pass"
        source = source_name(path, self._base_dir)
        columns = [self._column(name, properties, path, warn) for name in header]
        nulls = set(spec.null_values)
        classified = set(tap_policies(stream_tap(self)).tree)  # their bad cells are not quoted

        def make(line: int, row: Sequence[str]) -> dict[str, Any]:
            record: dict[str, Any] = {SOURCE_FILE: source, SOURCE_LINE: line, SOURCE_VERSION: version}
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
                        detail = hide_value(str(exc), text) if name in classified else str(exc)
                        raise DataValueError(str(path), line, name, detail) from None
                    record[name] = text  # the target rejects it, with the reason
            return record

        return make

    def header_columns(self, header: list[str], path: Path) -> list[str | None]:
        """The schema column each header name stands for (None: not in the schema, ignored)."""
        properties: dict[str, Any] = self.schema["properties"]
        return [self._column(name, properties, path)[0] for name in header]

    def _column(
        self, name: str, properties: dict[str, Any], path: Path, warn: bool = True
    ) -> tuple[str | None, Any, bool]:
        matched = match_name(name, [c for c in properties if c not in METADATA_PROPERTIES])
        if matched is None:
            if warn:
                self.logger.warning("Column %r of %s is not in the schema; ignored", name, path)
            return None, None, True
        prop = properties[matched]
        return matched, converter_for(prop), is_nullable(prop)
