"""Opening one CSV file safely: binary and encoding checks, the header, rows with line numbers.

Every problem becomes one `FatalError` line naming the file and the physical line
(``data/a.csv line 7: ...``); nothing here raises a bare `csv.Error` or `UnicodeDecodeError`.
"""

from __future__ import annotations

import codecs
import csv
import itertools
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

from dativo_singer.errors import DataValueError, FatalError
from tap_csv.files import FileSpec

if TYPE_CHECKING:
    from _csv import Reader as CSVReader

# csv's default cell limit is 128 KiB; long text cells are legitimate, but a bound keeps an
# unclosed quote from reading a whole large file into memory as one cell.
FIELD_SIZE_LIMIT = 64 * 1024 * 1024
FIELD_SIZE_LIMIT_TEXT = "64 MiB"
SNIFF_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
COMMON_DELIMITERS = (",", ";", "\t", "|")
_WIDE_CODECS = ("utf-16", "utf-32")  # their text holds NUL bytes


def text_codec(encoding: str) -> str:
    """The codec to decode with: UTF-8 skips a byte order mark (``utf-8-sig``)."""
    name = codecs.lookup(encoding).name
    return "utf-8-sig" if name == "utf-8" else name


def _find_decode_error(path: Path, codec: str, limit: int | None) -> tuple[int, int, int] | None:
    """(offset, line, byte) of the first byte ``codec`` cannot decode, within ``limit`` bytes."""
    decoder = codecs.getincrementaldecoder(codec)()
    fed = newlines = 0
    with path.open("rb") as handle:
        while limit is None or fed < limit:
            chunk = handle.read(CHUNK_BYTES if limit is None else min(CHUNK_BYTES, limit - fed))
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                pending = len(exc.object) - len(chunk)  # bytes kept from the previous chunk
                offset = fed - pending + exc.start
                before = exc.object[: exc.start]
                line = newlines - exc.object[:pending].count(b"\n") + before.count(b"\n") + 1
                return offset, line, exc.object[exc.start]
            if not chunk:
                return None
            fed += len(chunk)
            newlines += chunk.count(b"\n")
    return None


def _open_quote_line(path: Path, spec: FileSpec, codec: str, lines: tuple[int, int]) -> int | None:
    """The line whose quote is never closed within the physical ``lines`` (first, last) of a
    record, or None when the record's quotes are all closed.

    The record's text is parsed again in csv's strict mode, which reports a quoted field still
    open at the end ("unexpected end of data"). The line named is the last one that ends inside
    quotes after a line that did not: an odd number of quote characters flips the state (each
    quoted field opens and closes, escaped quotes come in pairs)."""
    start, stop = lines
    with path.open(newline="", encoding=codec, errors="replace") as handle:
        text = list(itertools.islice(handle, start - 1, stop))
    open_line: int | None = None
    for number, line in enumerate(text, start):
        if line.count(spec.quotechar) % 2:
            open_line = number if open_line is None else None
    try:
        for _ in csv.reader(text, delimiter=spec.delimiter, quotechar=spec.quotechar, strict=True):
            pass
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            return open_line or start
        return open_line  # a sloppy quote elsewhere: trust the count
    return None


class CSVFile:
    """One CSV file opened for reading, as a context manager.

    On entry the file is checked (no NUL byte in its first 64 KiB, its first 64 KiB decode)
    and the header (or the configured ``columns``) is read; `rows` then yields each non-empty
    record with the physical line it starts on."""

    def __init__(self, spec: FileSpec, path: Path) -> None:
        self.spec = spec
        self.path = path
        self.header: list[str] = []
        self.header_line = 0  # physical line of the header, 0 without one
        self._codec = text_codec(spec.encoding)
        self._handle: IO[str] | None = None
        self._reader: CSVReader | None = None

    def fail(self, line: int | None, detail: str, column: int | str | None = None) -> FatalError:
        """The error naming this file (and line, and column)."""
        where = f"{self.path} line {line}" if line else str(self.path)
        where += f" column {column}" if column is not None else ""
        return FatalError(f"{where}: {detail}")

    def __enter__(self) -> CSVFile:
        csv.field_size_limit(FIELD_SIZE_LIMIT)
        self._sniff()
        self._handle = self.path.open(newline="", encoding=self._codec)
        try:
            try:
                for _ in range(self.spec.skip_rows):
                    next(self._handle, None)
            except UnicodeDecodeError as exc:
                raise self._read_failure(1, self.spec.skip_rows, exc) from None
            self._reader = csv.reader(
                self._handle, delimiter=self.spec.delimiter, quotechar=self.spec.quotechar
            )
            if self.spec.columns:  # given names: every line is data
                self.header = list(self.spec.columns)
            elif self.spec.header:
                self.header = self._read_header()
        except BaseException:
            self._handle.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.close()

    @property
    def _line_offset(self) -> int:
        return self.spec.skip_rows

    def _sniff(self) -> None:
        with self.path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
        nul = -1 if self._codec.startswith(_WIDE_CODECS) else head.find(b"\0")
        if nul >= 0:
            raise self.fail(None, f"looks binary (NUL byte at offset {nul}); not a CSV file")
        found = _find_decode_error(self.path, self._codec, SNIFF_BYTES)
        if found:
            raise self._decode_failure(*found)

    def _decode_failure(self, offset: int, line: int, byte: int) -> FatalError:
        return self.fail(
            line,
            f"not valid {self.spec.encoding} (byte 0x{byte:02X} at offset {offset}); "
            f"set {self.spec.setting}.encoding",
        )

    def _read_header(self) -> list[str]:
        assert self._reader is not None
        try:
            header: list[str] = next(self._reader, [])
        except (csv.Error, UnicodeDecodeError) as exc:
            raise self._read_failure(
                1 + self._line_offset, self._reader.line_num + self._line_offset, exc
            ) from None
        self.header_line = self._reader.line_num + self._line_offset if header else 0
        return header

    def _read_failure(self, start: int, stop: int, exc: Exception) -> FatalError:
        """One line for a `csv.Error` or a decode error met reading lines ``start``-``stop``."""
        if isinstance(exc, UnicodeDecodeError):
            found = _find_decode_error(self.path, self._codec, None)
            if found:
                return self._decode_failure(*found)
            return self.fail(start, f"not valid {self.spec.encoding}; set {self.spec.setting}.encoding")
        text = str(exc)
        if "field larger than field limit" in text:
            open_line = _open_quote_line(self.path, self.spec, self._codec, (start, stop))
            if open_line is not None:
                return self._unclosed(open_line)
            return self.fail(
                start, f"a field is larger than {FIELD_SIZE_LIMIT_TEXT}, the most tap-csv reads in one cell"
            )
        return self.fail(start, text)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """Yield ``(line, fields)`` per non-empty record; ``line`` is its first physical line.

        A record whose field count differs from the header's, or a quote left open at the
        end of the file, raises naming the line."""
        reader = self._reader
        assert reader is not None
        width = len(self.header)
        offset = self._line_offset
        end = reader.line_num
        start = end + 1
        try:
            for row in reader:
                start = end + 1
                end = reader.line_num
                if not row:
                    continue
                if len(row) != width:
                    raise self._width_failure(start + offset, end + offset, len(row))
                yield start + offset, row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise self._read_failure(end + 1 + offset, reader.line_num + offset, exc) from None
        if end > start:  # the last record spans lines: did a quote run to the end of the file?
            open_line = _open_quote_line(self.path, self.spec, self._codec, (start + offset, end + offset))
            if open_line is not None:
                raise self._unclosed(open_line)

    def _width_failure(self, start: int, end: int, found: int) -> FatalError:
        open_line = _open_quote_line(self.path, self.spec, self._codec, (start, end))
        if open_line is not None:  # the quote ran to the end of the file
            return self._unclosed(open_line)
        detail = f"expected {len(self.header)} fields, found {found}"
        if end > start:
            detail += f" in a record spanning lines {start}-{end} (check the quotes on line {start})"
        return DataValueError(str(self.path), start, "*", detail)

    def _unclosed(self, line: int) -> FatalError:
        return self.fail(
            line, f"a quoted field starts here and is never closed (unterminated {self.spec.quotechar})"
        )
