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
        """Yield typed rows of every new or changed file, then record its fingerprint."""
        seen: dict[str, Any] = dict(self.stream_state.get(FILES_STATE_KEY) or {})
        for spec, path in self._files():
            key = str(path.resolve())
            current = fingerprint(path)
            if seen.get(key) == current:
                self.logger.info("Skipping unchanged file %s", path)
                continue
            self.logger.info("Reading %s", path)
            yield from self._read_file(spec, path)
            seen[key] = current
            # Written to the stream state so the next STATE message carries it.
            self.stream_state[FILES_STATE_KEY] = dict(seen)

    def _read_file(self, spec: FileSpec, path: Path) -> Iterator[dict[str, Any]]:
        properties: dict[str, Any] = self.schema["properties"]
        required = set(self.schema.get("required") or ())
        with path.open(newline="", encoding=spec.encoding) as handle:
            for _ in range(spec.skip_rows):
                next(handle, None)
            reader = csv.reader(handle, delimiter=spec.delimiter, quotechar=spec.quotechar)
            header = list(spec.columns) or (next(reader, []) if spec.header else [])
            if not header:
                return
            columns = [self._column(name, properties, path) for name in header]
            nulls = set(spec.null_values)
            for row in reader:
                line = reader.line_num + spec.skip_rows
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataValueError(
                        str(path), line, "*", f"expected {len(header)} fields, found {len(row)}"
                    )
                record: dict[str, Any] = {}
                for (name, convert, nullable), text in zip(columns, row, strict=True):
                    if name is None:
                        continue
                    if text in nulls:
                        if not nullable or name in required:
                            raise DataValueError(str(path), line, name, "empty value in required column")
                        record[name] = None
                        continue
                    try:
                        record[name] = convert(text)
                    except ValueError as exc:
                        raise DataValueError(str(path), line, name, str(exc)) from None
                yield record

    def _column(self, name: str, properties: dict[str, Any], path: Path) -> tuple[str | None, Any, bool]:
        prop = properties.get(name)
        if prop is None:
            self.logger.warning("Column %r of %s is not in the schema; ignored", name, path)
            return None, None, True
        return name, converter_for(prop), is_nullable(prop)
