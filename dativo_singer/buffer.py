"""RecordBuffer: one stream's records, raw RECORD lines and Arrow tables, turned into Arrow chunks
(column policies applied) and rejected records with reasons, in arrival order."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa

from dativo_singer.batch_files import KeptFile
from dativo_singer.conversion import RecordConverter, Rejected
from dativo_singer.policy import apply_policies, check_policies

CHUNK_ROWS = 10_000  # records are turned into Arrow this many at a time (bounded dict memory)


class RecordBuffer:
    """Buffers one stream until it is taken for a commit.

    ``rows`` / ``nbytes`` / ``since`` (monotonic time of the first buffered row) drive the
    commit thresholds. Records and lines are converted a chunk at a time, so the order of
    records is kept whichever way they arrive.
    """

    def __init__(self, converter: RecordConverter, policies: dict[str, str], salt: str = "") -> None:
        check_policies(policies)
        self.converter = converter
        self._policies = policies
        self._salt = salt
        self._pending: list[dict[str, Any]] = []
        self._pending_lines: list[bytes] = []
        self._chunks: list[pa.Table] = []
        self._files: list[KeptFile] = []  # BATCH files the target commits as they are
        self._rejected: list[Rejected] = []
        self.rows = 0
        self.nbytes = 0
        self.since: float | None = None
        # (chunks, files, rejects, rows) at the last STATE: what a STATE covers (None: no STATE yet)
        self._covered: tuple[int, int, int, int] | None = None

    @property
    def has_policies(self) -> bool:
        """True when column policies change values (a file can then not be kept as it is)."""
        return any(action != "allow" for action in self._policies.values())

    @property
    def empty(self) -> bool:
        """True when nothing (not even a rejected record) is buffered."""
        return not (self._pending or self._pending_lines or self._chunks or self._files or self._rejected)

    def _count(self, rows: int, nbytes: int) -> None:
        if self.since is None:
            self.since = time.monotonic()
        self.rows += rows
        self.nbytes += nbytes

    def add(self, record: dict[str, Any], nbytes: int) -> None:
        """One decoded record (``nbytes``: its message size, for the byte threshold)."""
        if self._pending_lines:
            self.convert_pending()  # keep the order of records
        self._pending.append(record)
        self._count(1, nbytes)
        if len(self._pending) >= CHUNK_ROWS:
            self.convert_pending()

    def add_lines(self, lines: list[bytes], nbytes: int) -> None:
        """Raw RECORD message lines (parsed in bulk at conversion)."""
        if self._pending:
            self.convert_pending()
        self._pending_lines.extend(lines)
        self._count(len(lines), nbytes)
        if len(self._pending_lines) >= CHUNK_ROWS:
            self.convert_pending()

    def add_table(self, table: pa.Table) -> None:
        """An Arrow table of records (a BATCH file), converted at once."""
        self.convert_pending()
        self._count(table.num_rows, table.nbytes)
        self._add_chunk(*self.converter.convert_table(table))

    def add_file(self, file: KeptFile) -> None:
        """A BATCH file committed as it is (its rows count towards the thresholds)."""
        self.convert_pending()
        self._count(file.rows, file.nbytes)
        file.position = len(self._chunks)
        self._files.append(file)

    def set_converter(self, converter: RecordConverter) -> None:
        """A new SCHEMA: what is buffered is converted with the old converter first."""
        self.convert_pending()
        self.converter = converter

    def convert_pending(self) -> None:
        """Convert buffered records and lines to Arrow chunks now."""
        if self._pending_lines:
            lines, self._pending_lines = self._pending_lines, []
            self._add_chunk(*self.converter.convert_lines(lines))
        if self._pending:
            records, self._pending = self._pending, []
            self._add_chunk(*self.converter.convert(records))

    def _add_chunk(self, data: pa.Table, rejected: list[Rejected]) -> None:
        if data.num_rows:
            self._chunks.append(apply_policies(data, self._policies, self._salt))
        self._rejected.extend(rejected)

    def mark_covered(self) -> None:
        """A STATE arrived: everything buffered so far is covered by it (chunks end here)."""
        self.convert_pending()
        self._covered = (len(self._chunks), len(self._files), len(self._rejected), self.rows)

    def drop_uncovered(self) -> tuple[int, list[KeptFile]]:
        """Drop what arrived after the last STATE: the number of records dropped, and the kept
        files among them (the target removes what it placed). Before any STATE nothing is
        dropped (a tap that sends none has no bookmark to protect)."""
        if self._covered is None:
            return 0, []
        self.convert_pending()
        chunks, files, rejects, rows = self._covered
        dropped = self.rows - rows
        dropped_files = self._files[files:]
        del self._chunks[chunks:], self._files[files:], self._rejected[rejects:]
        self.rows = rows
        return dropped, dropped_files

    def take(self) -> tuple[list[pa.Table], list[Rejected], list[KeptFile]]:
        """Everything buffered (chunks, rejects, kept files), leaving the buffer empty."""
        self.convert_pending()
        taken = self._chunks, self._rejected, self._files
        self._chunks, self._rejected, self._files = [], [], []
        self.rows = self.nbytes = 0
        self.since = None
        if self._covered is not None:
            self._covered = (0, 0, 0, 0)
        return taken
