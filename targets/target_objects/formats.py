"""File formats of data files, one writer each, found by name in ``FORMATS``.

A format writes Arrow tables to a local file (whole-file compression for text formats, the
column codec for Parquet). To add one, subclass ``FileFormat`` and add an instance to
``FORMATS``; settings, keys and manifests need nothing else. A format with settings of its own
returns a configured copy from ``configured`` (``markdown_kv``: the heading field). ``raw`` is
the one format that is not a file of rows: each record is one object (``raw_objects``).
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dativo_singer.errors import FatalError
from dativo_singer.markdown_kv import parse_bytes, render_record
from dativo_singer.markdown_kv.render import text_of

COMPRESSIONS = ("none", "gzip", "zstd")
_SUFFIX = {"none": "", "gzip": ".gz", "zstd": ".zst"}


class FormatWriter(ABC):
    """One open data file."""

    @abstractmethod
    def write(self, data: pa.Table) -> None:
        """Append rows (always in the schema the file was opened with)."""

    @abstractmethod
    def close(self) -> None:
        """Finish the file (footer, compression trailer)."""

    @property
    @abstractmethod
    def position(self) -> int:
        """Bytes in the file so far (compressed output may lag behind until ``close``)."""


class FileFormat(ABC):
    """A data file format: its name, file extension and writer."""

    name: str
    content_type: str
    nested: bool = True  # can write struct and list columns

    def extension(self, compression: str) -> str:
        """The file name extension (``jsonl.gz``)."""
        return self.name + _SUFFIX[compression]

    def content_type_for(self, compression: str) -> str:
        """The Content-Type of a file."""
        return {"gzip": "application/gzip", "zstd": "application/zstd"}.get(compression, self.content_type)

    def configured(self, options: Mapping[str, Any]) -> FileFormat:
        """This format with the settings of its own in ``options`` (most have none)."""
        return self

    @abstractmethod
    def open(self, path: Path, schema: pa.Schema, compression: str) -> FormatWriter:
        """A writer of a new file at ``path``."""

    @abstractmethod
    def read(self, data: bytes, compression: str) -> pa.Table:
        """A file's rows (for `dativo show`; types as the format keeps them)."""


class _StreamWriter(FormatWriter):
    """A text format over a (possibly compressed) output stream."""

    def __init__(self, path: Path, compression: str) -> None:
        self._raw = pa.OSFile(str(path), "wb")
        self._out: Any = (
            self._raw if compression == "none" else pa.CompressedOutputStream(self._raw, compression)
        )

    @property
    def position(self) -> int:
        return int(self._raw.tell())

    def close(self) -> None:
        self._out.close()
        if not self._raw.closed:
            self._raw.close()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value)) if value.is_finite() else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dt.timedelta):
        return str(value)
    raise TypeError(type(value).__name__)


_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE


def _decompressed(data: bytes, compression: str) -> bytes:
    if compression == "none":
        return data
    with pa.CompressedInputStream(pa.BufferReader(data), compression) as stream:
        return bytes(stream.read())


class _JsonLinesWriter(_StreamWriter):
    def write(self, data: pa.Table) -> None:
        self._out.write(
            b"".join(
                orjson.dumps(row, default=_json_default, option=_JSON_OPTIONS) for row in data.to_pylist()
            )
        )


class JsonLines(FileFormat):
    """One JSON object per line; decimals as exact numbers, timestamps ISO 8601 (UTC ``Z``)."""

    name = "jsonl"
    content_type = "application/x-ndjson"

    def open(self, path: Path, schema: pa.Schema, compression: str) -> FormatWriter:
        return _JsonLinesWriter(path, compression)

    def read(self, data: bytes, compression: str) -> pa.Table:
        lines = _decompressed(data, compression).splitlines()
        return pa.Table.from_pylist([orjson.loads(line) for line in lines if line.strip()])


class _CsvWriter(_StreamWriter):
    def __init__(self, path: Path, schema: pa.Schema, compression: str) -> None:
        super().__init__(path, compression)
        self._writer = pacsv.CSVWriter(cast(BinaryIO, self._out), schema)

    def write(self, data: pa.Table) -> None:
        self._writer.write_table(data)

    def close(self) -> None:
        self._writer.close()
        super().close()


class Csv(FileFormat):
    """CSV with a header line; null is an empty field, an empty string is ``""``."""

    name = "csv"
    content_type = "text/csv"
    nested = False

    def open(self, path: Path, schema: pa.Schema, compression: str) -> FormatWriter:
        return _CsvWriter(path, schema, compression)

    def read(self, data: bytes, compression: str) -> pa.Table:
        return pacsv.read_csv(pa.BufferReader(_decompressed(data, compression)))


class _ParquetWriter(FormatWriter):
    def __init__(self, path: Path, schema: pa.Schema, compression: str) -> None:
        self._path = path
        self._writer = pq.ParquetWriter(str(path), schema, compression=compression)

    @property
    def position(self) -> int:
        return self._path.stat().st_size

    def write(self, data: pa.Table) -> None:
        self._writer.write_table(data)

    def close(self) -> None:
        self._writer.close()


class Parquet(FileFormat):
    """Parquet; ``compression`` is the column codec (the file name stays ``.parquet``)."""

    name = "parquet"
    content_type = "application/vnd.apache.parquet"

    def extension(self, compression: str) -> str:
        return "parquet"

    def content_type_for(self, compression: str) -> str:
        return self.content_type

    def open(self, path: Path, schema: pa.Schema, compression: str) -> FormatWriter:
        return _ParquetWriter(path, schema, compression)

    def read(self, data: bytes, compression: str) -> pa.Table:
        return pq.read_table(pa.BufferReader(data))


class _MarkdownKVWriter(_StreamWriter):
    def __init__(self, path: Path, compression: str, heading_field: str | None) -> None:
        super().__init__(path, compression)
        self._heading_field = heading_field
        self._records = 0

    def write(self, data: pa.Table) -> None:
        pieces = []
        for row in data.to_pylist():
            self._records += 1
            heading = text_of(row.get(self._heading_field)) if self._heading_field else None
            text = f"Record {self._records}" if heading is None else heading
            pieces.append(("\n" if self._records > 1 else "") + render_record(text, row))
        self._out.write("".join(pieces).encode("utf-8"))


class MarkdownKV(FileFormat):
    """Markdown-KV documents (the codec of ``dativo_singer.markdown_kv``): per row a ``## heading``
    (the ``markdown_kv_heading_field`` value, else ``Record <n>``) and a fenced block of every
    non-null field as ``key: value``."""

    name = "markdown_kv"
    content_type = "text/markdown; charset=utf-8"
    nested = False

    def __init__(self, heading_field: str | None = None) -> None:
        self.heading_field = heading_field

    def configured(self, options: Mapping[str, Any]) -> FileFormat:
        return MarkdownKV(options.get("heading_field"))

    def extension(self, compression: str) -> str:
        return "md" + _SUFFIX[compression]

    def open(self, path: Path, schema: pa.Schema, compression: str) -> FormatWriter:
        if self.heading_field and self.heading_field not in schema.names:
            raise FatalError(
                f"setting 'markdown_kv_heading_field': {self.heading_field!r} is not a field of the "
                f"stream (fields: {', '.join(schema.names)})"
            )
        return _MarkdownKVWriter(path, compression, self.heading_field)

    def read(self, data: bytes, compression: str) -> pa.Table:
        document = parse_bytes(_decompressed(data, compression), "markdown_kv data file")
        return pa.Table.from_pylist([record.fields for record in document.records])


class RawObjects(FileFormat):
    """Each record one object holding its ``content`` (base64) unchanged, named by its ``path``
    (tap-markdown-kv's ``raw`` storage); written by ``raw_objects``, not as a file of rows."""

    name = "raw"
    content_type = "application/octet-stream"
    nested = False

    def open(self, path: Path, schema: pa.Schema, compression: str) -> FormatWriter:
        raise FatalError("format 'raw' writes one object per record (target_objects.raw_objects)")

    def read(self, data: bytes, compression: str) -> pa.Table:
        return pa.table({"bytes": [len(data)], "content": [data.decode("utf-8", "replace")]})


FORMATS: dict[str, FileFormat] = {
    f.name: f for f in (JsonLines(), Csv(), Parquet(), MarkdownKV(), RawObjects())
}


def format_names() -> list[str]:
    """Names of the formats known."""
    return list(FORMATS)


def get_format(name: str) -> FileFormat:
    """The format called ``name``; one clear error for an unknown one."""
    try:
        return FORMATS[name]
    except KeyError:
        raise FatalError(f"setting 'format': {name!r} is not one of {', '.join(FORMATS)}") from None
