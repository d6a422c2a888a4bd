"""Arrow record batches → right-sized Parquet files → singer-sdk BATCH messages (the tap side).

A tap's columnar fast path: the stream reads its source straight into Arrow record batches
(already typed for the stream's Singer schema) and hands them to ``ParquetBatchWriter.manifests``
from its ``get_batches`` override. singer-sdk's stream sync then writes, for each
manifest, a standard BATCH message::

    {"type": "BATCH", "stream": "orders",
     "encoding": {"format": "parquet", "compression": "snappy"},
     "manifest": ["file:///.../tap-csv--orders-<uuid>-1.parquet"]}

followed by the stream's STATE, both through the tap's message
writer. The contract that makes that STATE exact: ``manifests`` yields only when every batch it
has pulled from the input is in a written file, so a producer that brings its state up to date
*before* yielding a batch has, at each yield, a state covering exactly the files announced so
far. A ``None`` in the input ends the current file at once (a producer about to write RECORD
messages for some rows first flushes what it gave before them, keeping the order of rows).

Files go under singer-sdk's ``batch_config.storage.root`` (``prefix`` prepended to the name),
written under a temporary name and renamed, so a file a BATCH message names is always whole.
Nobody deletes them here: singer-sdk's convention is that batch files belong to whoever owns the
storage root (neither the SDK's taps nor its targets remove them). ``dativo run`` points the
root at the run's private folder, which it removes when the run ends (docs/BATCH.md). A writer
given the tap's column policies applies them to every batch before writing it.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeAlias

import pyarrow as pa
import pyarrow.parquet as pq

from dativo_singer.batch_settings import WRITE_OPTIONS, parquet_compression
from dativo_singer.sdk_internals import BaseBatchFileEncoding, BatchConfig, StorageTarget
from dativo_singer.tap_policy import TapPolicies

# A file is closed at whichever comes first: ``max_rows`` (batch_config.batch_size), or this
# many bytes of Arrow data (bounds the tap's memory whatever the row width).
DEFAULT_FILE_BYTES = 128 * 1024 * 1024

Batch: TypeAlias = pa.RecordBatch | pa.Table | None
Batches: TypeAlias = Iterable[Batch]
Manifest: TypeAlias = tuple[BaseBatchFileEncoding, list[str]]
# Called when a file is cut, it takes the producer's state at that moment; what it returns is
# called right before that file's manifest is yielded, and makes the STATE written after the
# BATCH message the state taken at the cut (``ParquetBatchWriter.manifests``).
CutState: TypeAlias = Callable[[], Callable[[], None]]


def local_root(storage: StorageTarget) -> Path | None:
    """The storage root as a local folder, or None when it is remote (s3://, ...)."""
    root = storage.root
    if root.startswith("file://"):
        return Path(root.removeprefix("file://"))
    return None if "://" in root else Path(root)


class ParquetBatchWriter:
    """Writes one stream's Arrow batches into Parquet files and yields BATCH manifests."""

    def __init__(
        self,
        batch_config: BatchConfig,
        *,
        tap_name: str,
        stream_name: str,
        max_rows: int | None = None,
        max_bytes: int = DEFAULT_FILE_BYTES,
        policies: TapPolicies | None = None,
    ) -> None:
        if batch_config.encoding.format != "parquet":
            raise ValueError(
                f"batch_config.encoding.format is {batch_config.encoding.format!r}, not 'parquet'"
            )
        self.batch_config = batch_config
        self.encoding = batch_config.encoding
        self.compression = parquet_compression(batch_config.encoding)
        self.max_rows = int(max_rows or batch_config.batch_size)
        self.max_bytes = max_bytes
        self.policies = policies  # applied to every batch before it is written
        self.stream_name = stream_name
        # The stream name (a table name from the source) made safe as part of a file name.
        safe_stream = re.sub(r"[^A-Za-z0-9_.-]", "_", stream_name).lstrip(".")
        self._sync_id = f"{tap_name}--{safe_stream}-{uuid.uuid4().hex}"
        self._count = 0
        self.files_written = 0
        self.rows_written = 0

    def manifests(self, batches: Batches, cut_state: CutState | None = None) -> Iterator[Manifest]:
        """``(encoding, [file URL, ...])`` per group of files written, the shape
        ``Stream.get_batches`` yields (one file, or several when one batch exceeds ``max_rows``).

        Yields only once every batch pulled so far is in a written file; ``None`` in
        ``batches`` closes the current file now. Empty batches are skipped.

        With ``cut_state``, each file is written in a thread while the next batches are pulled
        (Parquet encoding releases the GIL): the producer has then moved past a file when it is
        announced, so ``cut_state`` is called as the file is cut and what it returns just
        before the file is announced (see ``CutState``). A ``None`` still announces every file
        cut before the producer goes on (it writes RECORD messages next)."""
        if cut_state is not None:
            yield from self._pipelined(batches, cut_state)
            return
        pending: list[pa.Table] = []
        for _, cut in self._cuts(batches, pending):
            if cut:
                yield self.encoding, self.write_files(pending[:])
                pending.clear()
        if pending:
            yield self.encoding, self.write_files(pending)

    def _cuts(self, batches: Batches, pending: list[pa.Table]) -> Iterator[tuple[Batch, bool]]:
        """Each batch after it is added to ``pending``, and whether the file is cut there."""
        rows = nbytes = 0
        for batch in batches:
            if batch is not None and batch.num_rows:
                table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
                pending.append(table)
                rows += table.num_rows
                nbytes += table.nbytes
            cut = bool(pending) and (batch is None or rows >= self.max_rows or nbytes >= self.max_bytes)
            if cut:
                rows = nbytes = 0
            yield batch, cut

    def _pipelined(self, batches: Batches, cut_state: CutState) -> Iterator[Manifest]:
        """``manifests`` with one file at a time written in a thread."""
        writing: list[tuple[Future[list[str]], Callable[[], None]]] = []  # at most one

        def announce() -> Iterator[Manifest]:
            while writing:
                future, announce_state = writing.pop()
                urls = future.result()  # a failure to write is raised here
                announce_state()
                yield self.encoding, urls

        pending: list[pa.Table] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-writer") as pool:
            for batch, cut in self._cuts(batches, pending):
                if cut:
                    state = cut_state()
                    yield from announce()  # files are announced in order
                    writing.append((pool.submit(self.write_files, pending[:]), state))
                    pending.clear()
                if batch is None:
                    yield from announce()
            if pending:
                state = cut_state()
                yield from announce()
                writing.append((pool.submit(self.write_files, pending), state))
            yield from announce()

    def write_files(self, tables: list[pa.Table]) -> list[str]:
        """Write ``tables`` (one schema) as Parquet files of at most ``max_rows`` rows (one
        manifest: a batch bigger than that is announced whole); their URLs. Column policies
        are applied first: a file never holds a raw classified value."""
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        if self.policies is not None:
            table = self.policies.table(table, self.stream_name)
        return [
            self.write_file(table.slice(start, self.max_rows))
            for start in range(0, table.num_rows, self.max_rows)
        ]

    def write_file(self, table: pa.Table) -> str:
        """Write ``table`` as one Parquet file; its ``file://`` (or remote) URL."""
        self._count += 1
        storage = self.batch_config.storage
        name = f"{storage.prefix or ''}{self._sync_id}-{self._count}.parquet"
        root = local_root(storage)
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
            path = root.resolve() / name
            partial = path.with_name(f".{name}.partial")
            pq.write_table(table, partial, compression=self.compression, **WRITE_OPTIONS)
            os.replace(partial, path)
            url = path.as_uri()
        else:
            with storage.open(name, "wb") as handle:
                pq.write_table(table, handle, compression=self.compression, **WRITE_OPTIONS)
            url = storage.get_url(name)
        self.files_written += 1
        self.rows_written += table.num_rows
        return url


def file_sized(
    tables: Iterable[pa.Table], max_rows: int, max_bytes: int = DEFAULT_FILE_BYTES
) -> Iterator[pa.Table]:
    """``tables`` regrouped into tables of ``max_rows`` rows each (fewer when ``max_bytes`` of
    Arrow data come first, and for the last one), whatever sizes a driver reads in: every BATCH
    file then has the same size, not a full one and a sliver per ``max_rows`` (a target that
    adds the files to its table as they are keeps their sizes). A producer that moves its
    state to the last row of each table it yields keeps ``manifests``' contract."""
    pending: list[pa.Table] = []
    rows = nbytes = 0
    for table in tables:
        if not table.num_rows:
            continue
        pending.append(table)
        rows += table.num_rows
        nbytes += table.nbytes
        while rows >= max_rows or (nbytes >= max_bytes and rows):
            whole = pa.concat_tables(pending) if len(pending) > 1 else pending[0]
            cut = max_rows if rows >= max_rows else rows
            yield whole.slice(0, cut)
            rest = whole.slice(cut)
            pending = [rest] if rest.num_rows else []
            rows = rest.num_rows
            nbytes = rest.nbytes if rest.num_rows else 0
    if pending:
        yield pa.concat_tables(pending) if len(pending) > 1 else pending[0]
