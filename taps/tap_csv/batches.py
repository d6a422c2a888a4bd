"""tap-csv in BATCH mode: each file's rows as typed Arrow batches for ``ParquetBatchWriter``.

Same files, same per-file state and the same rows as ``CSVStream.get_records``:

- the state entry of a file (rows, checksum, version) is brought up to a batch's last row before
  the batch is yielded, so the STATE singer-sdk writes after each BATCH file covers exactly the
  rows of the files sent (``dativo_singer.batch_emit``);
- a changed file first proves, by the checksum of its first rows, that it only grew; else it is
  read again from its first row under a new version;
- rows the fast path cannot type as the RECORD path does (``tap_csv.arrow_path``) are sent as
  RECORD messages by the RECORD path's own code, in their place: the BATCH file before them is
  closed first; a file the fast path cannot read, or cannot parse further, goes on through the
  RECORD path from the row it reached.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import pyarrow as pa

from dativo_singer.sdk_internals import write_record_message
from dativo_singer.source_files import (
    SOURCE_FILE,
    SOURCE_LINE,
    SOURCE_VERSION,
    BackgroundDigest,
    content_digest,
    content_version,
    fingerprint,
    finish_file,
    source_name,
)
from dativo_singer.text_values import is_nullable
from tap_csv.arrow_path import (
    MOST_IRREGULAR,
    ArrowCSV,
    BlockTexts,
    Column,
    column_plan,
    constant,
    open_arrow,
    typed_block,
)
from tap_csv.digest import RowDigest
from tap_csv.files import FileSpec

if TYPE_CHECKING:
    from tap_csv.streams import CSVStream

Batch: TypeAlias = pa.Table | None


def arrow_batches(stream: CSVStream, file_rows: int) -> Iterator[Batch]:
    """Typed Arrow tables of every file the stream reads, of at most ``file_rows`` rows each
    (``None``: close the BATCH file now)."""
    filling = FileFill(file_rows)  # one BATCH file may hold rows of several CSV files
    for spec, path, key, entry, verify in stream._files_to_read():
        digest = BackgroundDigest(path)
        yield from FileBatches(stream, spec, path, key, entry, filling).batches(verify=verify)
        finish_file(entry, path, digest)


def stream_arrow_schema(stream: CSVStream) -> pa.Schema | None:
    """The BATCH files' schema: every schema column typed, then the metadata columns; None when
    a column has a type only the RECORD path reads (JSON cells, mixed types)."""
    fields = []
    for name, prop in stream.schema["properties"].items():
        if name in (SOURCE_FILE, SOURCE_LINE, SOURCE_VERSION):
            continue
        plan = column_plan(prop)
        if plan is None:
            return None
        fields.append(pa.field(name, plan[1]))
    meta = [pa.field(SOURCE_FILE, pa.string())]
    if stream.config.get("batch_line_numbers", True) is not False:
        meta.append(pa.field(SOURCE_LINE, pa.int64()))
    return pa.schema([*fields, *meta, pa.field(SOURCE_VERSION, pa.string())])


class FileFill:
    """Rows handed to the BATCH file being filled, so that tables are cut where the file ends:
    the writer closes a file at ``file_rows`` rows, and a table that ran past it would leave a
    sliver file of the rows beyond (one per file: twice the files, half of them small)."""

    def __init__(self, file_rows: int) -> None:
        self.file_rows = file_rows
        self.rows = 0

    def room(self) -> int:
        """Rows the current file still takes."""
        return self.file_rows - self.rows

    def add(self, rows: int) -> None:
        self.rows = (self.rows + rows) % self.file_rows

    def closed(self) -> None:
        """The file was closed early (a ``None`` to the writer)."""
        self.rows = 0


class FileBatches:
    """One file of a stream in BATCH mode."""

    def __init__(
        self,
        stream: CSVStream,
        spec: FileSpec,
        path: Path,
        key: str,
        entry: dict[str, Any],
        filling: FileFill,
    ):
        self.stream, self.spec, self.path, self.key, self.entry = stream, spec, path, key, entry
        self.filling = filling  # where tables are cut (at a BATCH file's end)
        self.schema = stream_arrow_schema(stream)
        self.nulls = pa.array(list(spec.null_values), pa.string())
        self._constants: dict[str, pa.Array] = {}  # a text repeated, sliced for each table

    def _constant(self, text: str, rows: int) -> pa.Array:
        """``rows`` copies of ``text``: a slice of one array made once (grown when too short)."""
        made = self._constants.get(text)
        if made is None or len(made) < rows:
            made = self._constants[text] = constant(text, pa.string(), max(rows, 2 * len(made or ())))
        return made.slice(0, rows)

    def _columns(self, header: list[str]) -> list[Column]:
        properties = self.stream.schema["properties"]
        required = set(self.stream.schema.get("required") or ()) | set(self.stream.primary_keys or ())
        assert self.schema is not None
        columns = []
        for position, name in enumerate(self.stream.header_columns(header, self.path)):
            if name is not None:
                prop = properties[name]
                nullable = is_nullable(prop) and name not in required
                plan = column_plan(prop)
                assert plan is not None  # else there is no schema for BATCH files
                columns.append(Column(position, name, *plan, nullable))
        return columns

    def batches(self, *, verify: bool) -> Iterator[Batch]:
        """The file's new rows; with ``verify``, only once its first rows match the checksum."""
        entry = self.entry
        while True:
            with self.stream._open(self.spec, self.path) as file:
                header, lines_before = list(file.header), file.header_line or self.spec.skip_rows
            arrow = (
                None if self.schema is None else open_arrow(self.spec, self.path, len(header), lines_before)
            )
            if arrow is None:
                yield from self._record_path(verify)
                return
            outcome = yield from self._fast(arrow, header, verify)
            if outcome != "changed":
                return
            current = fingerprint(self.path)
            version = content_version(self.key, current, content_digest(self.path))
            entry.update(current, rows=0, version=version, digest=None)
            self.stream.logger.info("%s changed: its rows are read again under a new version", self.path)
            verify = False

    def _record_path(self, verify: bool) -> Iterator[Batch]:
        """The rest of the file as RECORD messages (``CSVStream._emit_file``)."""
        yield None  # what was batched before comes first
        self.filling.closed()
        for record in self.stream._emit_file(self.spec, self.path, self.key, self.entry, verify=verify):
            write_record_message(self.stream, record)

    def _fast(self, arrow: ArrowCSV, header: list[str], verify: bool) -> Generator[Batch, None, str]:
        """Returns "done", or "changed" (the checksum of the first rows differs)."""
        entry, stream = self.entry, self.stream
        skip = int(entry["rows"])
        digest = RowDigest()
        stream._reading = (entry, digest)
        verified = not verify
        columns = self._columns(header)
        make: Callable[[int, Sequence[str]], dict[str, Any]] | None = None
        index = 0  # rows of the file read so far
        try:
            blocks = arrow.blocks()
            while True:
                try:
                    block, lines = next(blocks)
                except StopIteration:
                    break
                except pa.ArrowInvalid:  # the RECORD path goes on, and names any error as usual
                    yield from self._record_path(verify and not verified)
                    return "done"
                texts = BlockTexts(block)
                rows = block.num_rows
                known = min(rows, max(0, skip - index))  # rows loaded by an earlier run
                if known:
                    digest.add_soon(texts.rows(0, known))
                if verify and not verified and known and index + known == skip:
                    verified = digest.hexdigest() == entry["digest"]
                    if not verified:
                        return "changed"
                    stream.logger.info("%s grew: reading from data row %d", self.path, skip + 1)
                if known < rows:
                    part = block.slice(known)
                    typed, irregular = typed_block(columns, part, self.nulls)
                    if len(irregular) > max(16, MOST_IRREGULAR * part.num_rows):
                        irregular = set(range(part.num_rows))
                    if irregular and make is None:
                        make = stream.record_maker(self.spec, self.path, header, entry["version"], warn=False)
                    yield from self._emit(
                        part, typed, lines[known:], irregular, (texts, known), index + known, make, digest
                    )
                index += rows
            if verify and not verified:
                return "changed"  # fewer rows than were loaded
            entry["digest"] = digest.hexdigest()
            return "done"
        finally:
            stream._reading = None

    def _emit(
        self,
        part: pa.RecordBatch,
        typed: dict[str, pa.Array],
        lines: pa.Array,
        irregular: set[int],
        texts: tuple[BlockTexts, int],
        first: int,
        make: Callable[[int, Sequence[str]], dict[str, Any]] | None,
        digest: RowDigest,
    ) -> Iterator[Batch]:
        """Rows of a block in order: runs of regular rows as tables, each irregular row as a
        RECORD message; the state entry and checksum follow every row sent."""
        table = self._table(part.num_rows, typed, lines)
        block_texts, offset = texts  # the part's rows start at row ``offset`` of the block
        start = 0
        for row in [*sorted(irregular), part.num_rows]:
            cut = start
            while cut < row:  # tables end where a BATCH file does
                stop = min(row, cut + self.filling.room())
                digest.add_soon(block_texts.rows(offset + cut, offset + stop))
                self.entry["rows"] = first + stop
                self.filling.add(stop - cut)
                yield table.slice(cut, stop - cut)
                cut = stop
            if row == part.num_rows:
                break
            yield None
            self.filling.closed()
            assert make is not None
            cells = [part.column(c)[row].as_py() for c in range(part.num_columns)]
            write_record_message(self.stream, make(lines[row].as_py(), cells))
            digest.add_soon(block_texts.rows(offset + row, offset + row + 1))
            self.entry["rows"] = first + row + 1
            start = row + 1

    def _table(self, rows: int, typed: dict[str, pa.Array], lines: pa.Array) -> pa.Table:
        assert self.schema is not None
        values = {
            **typed,
            SOURCE_FILE: self._constant(source_name(self.path, self.stream._base_dir), rows),
            SOURCE_LINE: lines,
            SOURCE_VERSION: self._constant(self.entry["version"], rows),
        }
        arrays = [values.get(f.name, pa.nulls(rows, f.type)) for f in self.schema]
        return pa.Table.from_arrays(arrays, schema=self.schema)
