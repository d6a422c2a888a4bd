"""BATCH files from a stream's records, written as ``batch_config`` says (the tap side).

singer-sdk's own batchers ignore part of ``batch_config.encoding``: its JSON-lines batcher
gzips every file (``.json.gz``) even when ``compression`` is ``none`` — while the BATCH message
says ``none``, so a target reading it as plain text fails on byte ``0x8b`` — and its Parquet
batcher writes snappy for ``none``. ``RecordBatches`` is a Stream mixin that writes what is
asked: ``.jsonl`` (plain) or ``.jsonl.gz`` (gzip) files, and Parquet files with the named codec.
Streams with a columnar fast path (tap-csv, the database taps) write their Parquet files
themselves (``dativo_singer.batch_emit``) and reach this mixin for JSON lines only.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Iterator
from typing import IO, Any
from uuid import uuid4

from singer_sdk.batch import lazy_chunked_generator
from singer_sdk.singerlib.json import serialize_json

from dativo_singer.batch_settings import WRITE_OPTIONS, parquet_compression
from dativo_singer.errors import FatalError
from dativo_singer.sdk_internals import BaseBatchFileEncoding, BatchConfig, sync_records

JSONL_SUFFIXES = {"gzip": ".jsonl.gz", "none": ".jsonl"}


def jsonl_suffix(encoding: BaseBatchFileEncoding) -> str:
    """The file name ending for a JSON-lines encoding (``gzip``, or ``none`` / unset: plain)."""
    codec = (encoding.compression or "none").lower()
    if codec not in JSONL_SUFFIXES:
        raise ValueError(
            f"batch_config.encoding.compression: {encoding.compression!r} is not written for "
            "jsonl batches (gzip or none)"
        )
    return JSONL_SUFFIXES[codec]


def write_record_batches(
    records: Iterable[dict[str, Any]], batch_config: BatchConfig, *, tap_name: str, stream_name: str
) -> Iterator[list[str]]:
    """One manifest (a list of one file URL) per ``batch_size`` records, each file written in
    the format and compression of ``batch_config.encoding``."""
    encoding = batch_config.encoding
    storage = batch_config.storage
    safe_stream = re.sub(r"[^A-Za-z0-9_.-]", "_", stream_name).lstrip(".")
    sync_id = f"{storage.prefix or ''}{tap_name}--{safe_stream}-{uuid4()}"
    if encoding.format == "jsonl":
        suffix = jsonl_suffix(encoding)
    elif encoding.format == "parquet":
        codec, suffix = parquet_compression(encoding), ".parquet"
    else:
        raise ValueError(f"batch_config.encoding.format: {encoding.format!r} is not jsonl or parquet")
    for number, chunk in enumerate(lazy_chunked_generator(records, batch_config.batch_size), start=1):
        name = f"{sync_id}-{number}{suffix}"
        with storage.open(name, "wb") as handle:
            if encoding.format == "parquet":
                _write_parquet(list(chunk), handle, codec)
            elif suffix.endswith(".gz"):
                with gzip.GzipFile(fileobj=handle, mode="wb") as zipped:
                    zipped.writelines((serialize_json(r) + "\n").encode() for r in chunk)
            else:
                handle.writelines((serialize_json(r) + "\n").encode() for r in chunk)
        yield [storage.get_url(name)]


def _write_parquet(records: list[dict[str, Any]], handle: IO[bytes], codec: str) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # a REST tap installed alone (docs/PACKAGING.md)
        raise FatalError(
            "batch_config.encoding.format: parquet needs pyarrow, which is not installed "
            "(install the tap's [parquet] extra, or use jsonl)"
        ) from None

    pq.write_table(pa.Table.from_pylist(records), handle, compression=codec, **WRITE_OPTIONS)


class RecordBatches:
    """Stream mixin (first among the bases): ``get_batches`` writes what ``batch_config`` asks."""

    tap_name: str
    name: str

    def get_batches(
        self, batch_config: BatchConfig, context: Any = None
    ) -> Iterable[tuple[BaseBatchFileEncoding, list[str]]]:
        """``(encoding, manifest)`` per file of the stream's records."""
        records = sync_records(self, context)  # type: ignore[arg-type]
        for manifest in write_record_batches(
            records, batch_config, tap_name=self.tap_name, stream_name=self.name
        ):
            yield batch_config.encoding, manifest
