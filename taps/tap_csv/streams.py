"""CSVStream: one Singer stream per configured object, read from one or more files."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from singer_sdk import Tap
from singer_sdk.streams import Stream

from dativo_singer.errors import DataValueError, FatalError
from tap_csv.files import FileSpec, fingerprint, resolve_paths
from tap_csv.values import converter_for, is_nullable

FILES_STATE_KEY = "files"
SOURCE_FILE = "_sdc_source_file"
SOURCE_LINE = "_sdc_source_lineno"
# Set on records carrying a value that did not parse (``on_invalid_value: pass``), so their
# dead-letter entry says where they came from; targets leave `_sdc_` fields out of tables.
METADATA_PROPERTIES: dict[str, Any] = {
    SOURCE_FILE: {"type": ["string", "null"]},
    SOURCE_LINE: {"type": ["integer", "null"]},
}


class CSVStream(Stream):
    """Rows of the CSV files configured for one object, typed by the object's JSON Schema.

    Incremental by file: the stream state remembers each file's size and modification time,
    and a file whose fingerprint is unchanged is skipped on the next run.
    """

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
        schema = {**schema, "properties": {**schema.get("properties", {}), **METADATA_PROPERTIES}}
        super().__init__(tap=tap, schema=schema, name=name)
        self.primary_keys = key_properties

    def _files(self) -> Iterator[tuple[FileSpec, Path]]:
        for spec in self._specs:
            paths = resolve_paths(spec.path, self._base_dir)
            if not paths:
                raise FatalError(f"no file matches {spec.path!r} (object {spec.object!r})")
            for path in paths:
                yield spec, path

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """Yield typed rows of every new, changed or partly read file.

        The stream state holds, per file, its fingerprint, the data rows already emitted and
        whether it is done; every STATE message the SDK writes carries the exact position."""
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
        with path.open(newline="", encoding=spec.encoding) as handle:
            for _ in range(spec.skip_rows):
                next(handle, None)
            reader = csv.reader(handle, delimiter=spec.delimiter, quotechar=spec.quotechar)
            header = list(spec.columns) or (next(reader, []) if spec.header else [])
            if not header:
                return
            columns = [self._column(name, properties, path) for name in header]
            nulls = set(spec.null_values)
            data_rows = 0
            for row in reader:
                if not row:
                    continue
                data_rows += 1
                if data_rows <= skip:
                    continue
                line = reader.line_num + spec.skip_rows
                if len(row) != len(header):
                    raise DataValueError(
                        str(path), line, "*", f"expected {len(header)} fields, found {len(row)}"
                    )
                record: dict[str, Any] = {}
                invalid = False
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
                        invalid = True
                if invalid:  # where the rejected record came from, for its dead-letter entry
                    record[SOURCE_FILE] = str(path)
                    record[SOURCE_LINE] = line
                yield record

    def _column(self, name: str, properties: dict[str, Any], path: Path) -> tuple[str | None, Any, bool]:
        prop = properties.get(name)
        if prop is None:
            self.logger.warning("Column %r of %s is not in the schema; ignored", name, path)
            return None, None, True
        return name, converter_for(prop), is_nullable(prop)
