"""The storage patterns: how one Markdown-KV file becomes rows.

``string`` one row per file (the Markdown text), ``raw`` one row per file (its bytes, for
target-objects), ``row_per_kv`` one row per key of each record, ``document`` one row per record
with the keys as typed columns, ``hybrid`` the same plus the record's Markdown.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dativo_singer.errors import DataValueError, FatalError
from dativo_singer.json_types import property_types
from dativo_singer.markdown_kv import Document, Record, parse_bytes, render_record
from dativo_singer.text_values import converter_for

STORAGES = ("string", "raw", "row_per_kv", "document", "hybrid")
MARKDOWN_COLUMN = "markdown"  # hybrid: the record's Markdown

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_INTEGER = {"type": "integer"}
_TIMESTAMP = {"type": "string", "format": "date-time"}

# The columns of the patterns whose shape does not depend on the documents.
FIXED_PROPERTIES: dict[str, dict[str, Any]] = {
    "string": {
        "path": _STRING,
        "title": _NULLABLE_STRING,
        "markdown": _STRING,
        "checksum": _STRING,
        "size": _INTEGER,
        "modified_at": _TIMESTAMP,
    },
    "raw": {
        "path": _STRING,
        "content": {"type": "string", "contentEncoding": "base64"},
        "checksum": _STRING,
        "size": _INTEGER,
        "modified_at": _TIMESTAMP,
    },
    "row_per_kv": {
        "path": _STRING,
        "record_index": _INTEGER,
        "heading": _NULLABLE_STRING,
        "key": _STRING,
        "value": _STRING,
    },
}
FIXED_KEYS: dict[str, list[str]] = {
    "string": ["path"],
    "raw": ["path"],
    "row_per_kv": ["path", "record_index", "key"],
}


def fixed_schema(storage: str) -> dict[str, Any]:
    """The stream schema of a fixed-shape pattern."""
    properties = FIXED_PROPERTIES[storage]
    return {"type": "object", "properties": dict(properties), "required": list(FIXED_KEYS[storage])}


@dataclass(frozen=True)
class FileContent:
    """A file as read: its name in rows, bytes, SHA-256 and modification time."""

    name: str
    data: bytes
    checksum: str
    mtime_ns: int

    @property
    def modified_at(self) -> str:
        seconds, nanos = divmod(self.mtime_ns, 1_000_000_000)
        moment = dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
        return (moment + dt.timedelta(microseconds=nanos // 1000)).isoformat()


def normalized(name: str) -> str:
    """How a key is matched to a column when no column has its exact name: lower case, runs of
    anything but letters and digits as one ``_`` (``First Name`` → ``first_name``)."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


class RowBuilder:
    """Turns a file into ``(line, row)`` pairs for one stream's storage pattern and schema."""

    def __init__(
        self,
        storage: str,
        schema: dict[str, Any],
        on_invalid: str,
        warn: Callable[[str], None],
        unrendered: frozenset[str] = frozenset(),
    ):
        self.storage = storage
        self.unrendered = unrendered  # hybrid: columns whose keys stay out of the record's Markdown
        self.properties: dict[str, Any] = {
            k: v for k, v in schema.get("properties", {}).items() if not k.startswith("_sdc_")
        }
        self.required = set(schema.get("required") or ())
        self.pass_invalid = on_invalid == "pass"
        self.warn = warn
        typed = [c for c in self.properties if not (storage == "hybrid" and c == MARKDOWN_COLUMN)]
        self.columns = {name: converter_for(self.properties[name]) for name in typed}
        self.by_normalized = {normalized(c): c for c in typed}

    def rows(self, content: FileContent) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every row of the file (a malformed document raises before the first one)."""
        if self.storage == "raw":
            yield 1, self._file_row(content, {"content": base64.b64encode(content.data).decode("ascii")})
            return
        document = parse_bytes(content.data, content.name)
        if self.storage == "string":
            text = content.data.decode("utf-8").removeprefix("\ufeff")
            yield 1, self._file_row(content, {"title": document.title, "markdown": text})
        elif self.storage == "row_per_kv":
            yield from self._kv_rows(content.name, document)
        else:
            unknown: set[str] = set()
            for record in document.records:
                yield record.line, self._document_row(content.name, record, unknown)

    def _file_row(self, content: FileContent, extra: dict[str, Any]) -> dict[str, Any]:
        row = {"path": content.name, **extra, "checksum": content.checksum, "size": len(content.data)}
        return {**row, "modified_at": content.modified_at}

    @staticmethod
    def _kv_rows(name: str, document: Document) -> Iterator[tuple[int, dict[str, Any]]]:
        for index, record in enumerate(document.records):
            for key, value in record.fields.items():
                row = {
                    "path": name,
                    "record_index": index,
                    "heading": record.heading,
                    "key": key,
                    "value": value,
                }
                yield record.line, row

    def _column(self, key: str) -> str | None:
        if key in self.columns:
            return key
        return self.by_normalized.get(normalized(key))

    def _document_row(self, name: str, record: Record, unknown: set[str]) -> dict[str, Any]:
        row: dict[str, Any] = dict.fromkeys(self.columns)
        rendered = dict(record.fields)
        filled: dict[str, str] = {}
        for key, text in record.fields.items():
            column = self._column(key)
            if column is not None and filled.setdefault(column, key) != key:
                both = f"keys {filled[column]!r} and {key!r} both fill column {column!r}"
                raise FatalError(f"{name} line {record.line}: {both}")
            if column in self.unrendered:
                del rendered[key]
            if column is None:
                if key not in unknown:
                    unknown.add(key)
                    self.warn(
                        f"{name} line {record.line}: key {key!r} is not a column of the schema; ignored"
                    )
                continue
            convert = self.columns[column]
            if text == "" and not _is_plain_string(self.properties[column]):
                continue  # an empty value of a typed column is null
            try:
                row[column] = convert(text)
            except ValueError as exc:
                if not self.pass_invalid:
                    raise DataValueError(name, record.line, column, str(exc)) from None
                row[column] = text  # the target dead-letters the record, with the reason
        for column in self.required:
            if column in self.columns and row.get(column) is None and not self.pass_invalid:
                raise DataValueError(name, record.line, column, "no value for a required column")
        if self.storage == "hybrid":
            row[MARKDOWN_COLUMN] = render_record(record.heading, rendered)
        return row


def _is_plain_string(prop: dict[str, Any]) -> bool:
    return "string" in property_types(prop) and "format" not in prop


def check_storage_schema(storage: str, obj: str, schema: dict[str, Any] | None) -> None:
    """A given schema fits the pattern: the fixed patterns' exact columns, hybrid's ``markdown``."""
    if schema is None:
        return
    names = {k for k in schema.get("properties", {}) if not k.startswith("_sdc_")}
    if storage in FIXED_PROPERTIES:
        expected = set(FIXED_PROPERTIES[storage])
        if names != expected:
            missing, extra = sorted(expected - names), sorted(names - expected)
            parts = [f"missing {missing}" if missing else "", f"not part of it {extra}" if extra else ""]
            detail = "; ".join(part for part in parts if part)
            raise FatalError(
                f"schemas.{obj}: storage {storage!r} has the columns {sorted(expected)}: {detail}"
            )
    elif storage == "hybrid" and MARKDOWN_COLUMN not in names:
        raise FatalError(f"schemas.{obj}: storage 'hybrid' needs a string column {MARKDOWN_COLUMN!r}")
