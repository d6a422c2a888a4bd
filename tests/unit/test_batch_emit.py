"""dativo_singer.batch_emit: Arrow batches → Parquet BATCH files, each announced only when whole,
with the STATE that covers it (through a real singer-sdk tap)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from singer_sdk import Stream, Tap

from dativo_singer.batch_emit import ParquetBatchWriter
from dativo_singer.batch_files import local_parquet_paths
from dativo_singer.batch_settings import parquet_batch_config
from dativo_singer.sdk_internals import BaseBatchFileEncoding, BatchConfig


def _config(root: Path, **encoding: Any) -> BatchConfig:
    return BatchConfig.from_dict(
        {
            "encoding": {"format": "parquet", **encoding},
            "storage": {"root": f"file://{root}"},
            "batch_size": 5,
        }
    )


def _batch(start: int, rows: int) -> pa.RecordBatch:
    return pa.record_batch({"id": pa.array(range(start, start + rows), pa.int64())})


def _ids(url: str) -> list[int]:
    return pq.read_table(url.removeprefix("file://")).column("id").to_pylist()


def test_files_are_right_sized_and_announced_only_when_whole(tmp_path: Path) -> None:
    writer = ParquetBatchWriter(_config(tmp_path), tap_name="tap-x", stream_name="s")
    pulled: list[int] = []

    def batches() -> Iterator[pa.RecordBatch | None]:
        for start in range(0, 12, 3):  # 4 batches of 3 rows
            pulled.append(start + 3)
            yield _batch(start, 3)
        yield None  # nothing pending: no empty file
        pulled.append(14)
        yield _batch(12, 2)
        yield None  # closes the 2-row file at once
        pulled.append(15)
        yield _batch(14, 1)

    seen = []
    for encoding, manifest in writer.manifests(batches()):
        # every row pulled so far is in the files announced so far
        seen.append((pulled[-1], [i for url in manifest for i in _ids(url)]))
        assert encoding.format == "parquet"
        assert Path(manifest[0].removeprefix("file://")).parent == tmp_path
    assert seen == [(6, [0, 1, 2, 3, 4, 5]), (12, [6, 7, 8, 9, 10, 11]), (14, [12, 13]), (15, [14])]
    assert not list(tmp_path.glob(".*partial"))
    assert (writer.files_written, writer.rows_written) == (6, 15)  # 6 and 6 rows: 5 + 1 each
    # a batch bigger than a file: several files in one manifest, announced together
    (_, urls), *_ = writer.manifests([_batch(0, 12)])
    assert [_ids(url) for url in urls] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11]]


def test_files_written_in_the_background_are_announced_with_the_state_at_their_cut(tmp_path: Path) -> None:
    """With ``cut_state``, the producer runs ahead of the file being written; each file is still
    announced in order, whole, right after its own state is put in place, and a ``None`` makes
    every file cut before it announced before the producer goes on."""
    writer = ParquetBatchWriter(_config(tmp_path), tap_name="tap-x", stream_name="s")
    state = {"last": -1}
    events: list[Any] = []

    def batches() -> Iterator[pa.RecordBatch | None]:
        for start in range(0, 12, 3):
            state["last"] = start + 2  # state first, then the batch
            events.append(("pulled", start + 2))
            yield _batch(start, 3)
        yield None
        events.append(("after None", state["last"]))
        state["last"] = 13
        yield _batch(12, 2)

    def cut_state() -> Any:
        taken = state["last"]
        return lambda: events.append(("state", taken))

    for _, manifest in writer.manifests(batches(), cut_state=cut_state):
        events.append(("announced", [i for url in manifest for i in _ids(url)]))
    # the first file (rows 0-5) is cut at row 5 and announced only after the producer went on
    assert events == [
        ("pulled", 2), ("pulled", 5), ("pulled", 8), ("pulled", 11),
        ("state", 5), ("announced", [0, 1, 2, 3, 4, 5]),
        ("state", 11), ("announced", [6, 7, 8, 9, 10, 11]),
        ("after None", 11),
        ("state", 13), ("announced", [12, 13]),
    ]  # fmt: skip
    assert not list(tmp_path.glob(".*partial"))

    # a file that cannot be written fails the stream where it would be announced, unannounced
    (tmp_path / "not-a-folder").write_text("")
    failing = ParquetBatchWriter(_config(tmp_path / "not-a-folder"), tap_name="t", stream_name="s")
    events.clear()
    with pytest.raises(OSError):
        list(failing.manifests([_batch(0, 5), _batch(5, 5)], cut_state=cut_state))
    assert events == []


def test_compression_and_refusals(tmp_path: Path) -> None:
    writer = ParquetBatchWriter(_config(tmp_path, compression="zstd"), tap_name="t", stream_name="s")
    (_, [url]), *_ = writer.manifests([_batch(0, 3)])
    assert pq.ParquetFile(url.removeprefix("file://")).metadata.row_group(0).column(0).compression == "ZSTD"
    with pytest.raises(ValueError, match="compression: 'rar' is not a Parquet codec"):
        ParquetBatchWriter(_config(tmp_path, compression="rar"), tap_name="t", stream_name="s")
    assert parquet_batch_config({}) is None
    jsonl = {"encoding": {"format": "jsonl"}, "storage": {"root": str(tmp_path)}}
    assert parquet_batch_config({"batch_config": jsonl}) is None
    assert parquet_batch_config({"batch_config": {**jsonl, "encoding": {"format": "parquet"}}}) is not None


class _NumbersStream(Stream):
    """Three pages of ids; the state names the last id read."""

    name = "numbers"
    schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
    primary_keys = ["id"]

    def get_records(self, context: Any) -> Iterable[dict[str, Any]]:
        raise AssertionError("the fast path reads no records")

    def get_batches(
        self, batch_config: BatchConfig, context: Any = None
    ) -> Iterator[tuple[BaseBatchFileEncoding, list[str]]]:
        def pages() -> Iterator[pa.RecordBatch]:
            for start in (0, 4, 8):
                self.stream_state["last_id"] = start + 3  # state first, then the batch
                yield _batch(start, 4)

        writer = ParquetBatchWriter(batch_config, tap_name=self.tap_name, stream_name=self.name, max_rows=8)
        yield from writer.manifests(pages())


class _NumbersTap(Tap):
    name = "tap-numbers"
    config_jsonschema = {"type": "object", "properties": {"batch_config": {"type": "object"}}}

    def discover_streams(self) -> list[Stream]:
        return [_NumbersStream(self)]


def test_a_singer_sdk_tap_writes_batch_then_covering_state(tmp_path: Path) -> None:
    config = {"batch_config": _config(tmp_path, compression="snappy").asdict()}
    out = io.StringIO()
    with redirect_stdout(out):
        _NumbersTap(config=config).sync_all()
    messages = [json.loads(line) for line in out.getvalue().splitlines()]
    kinds = [
        (m["type"], m.get("value", {}).get("bookmarks", {}).get("numbers", {}).get("last_id"))
        for m in messages
    ]
    batch_at = [i for i, m in enumerate(messages) if m["type"] == "BATCH"]
    assert len(batch_at) == 2
    first, second = (messages[i] for i in batch_at)
    assert first["encoding"] == {"format": "parquet", "compression": "snappy"}
    assert _ids(first["manifest"][0]) == list(range(8))
    assert _ids(second["manifest"][0]) == list(range(8, 12))
    # each BATCH is followed by the STATE that covers exactly its rows
    assert kinds[batch_at[0] + 1] == ("STATE", 7)
    assert kinds[batch_at[1] + 1] == ("STATE", 11)
    # and target-side readers take the files as local Parquet (no per-row decoding)
    encoding = BaseBatchFileEncoding.from_dict(first["encoding"])
    assert local_parquet_paths(encoding, first["manifest"]) == [first["manifest"][0].removeprefix("file://")]


def test_parquet_codecs_stay_valid_after_singer_sdk_adds_its_built_in_settings() -> None:
    """singer-sdk adds its own `batch_config` (compression gzip|none) to a tap's config schema the
    first time `--about` or config validation runs; ours must be the one added, or a later snappy
    config in the same process is refused."""
    from tap_csv.settings import CONFIG_SCHEMA, config_problems
    from tap_csv.tap import TapCSV

    TapCSV.append_builtin_config(CONFIG_SCHEMA)
    files = [{"object": "a", "path": "a.csv"}]
    for codec in ("snappy", "zstd", "none"):
        config = {"files": files, "batch_config": {"encoding": {"format": "parquet", "compression": codec}}}
        assert config_problems(config) == []
    bad = {"files": files, "batch_config": {"encoding": {"format": "parquet", "compression": "lzma"}}}
    assert config_problems(bad) == [
        "batch_config.encoding.compression: 'lzma' is not one of "
        "['brotli', 'gzip', 'lz4', 'none', 'snappy', 'zstd']"
    ]


def test_a_jsonl_batch_codec_singer_sdk_does_not_write_is_refused() -> None:
    """zstd is listed for Parquet files; singer-sdk's JSONL batcher would ignore it and write
    uncompressed files, so a jsonl batch_config asking for it is refused with one line."""
    from tap_csv.settings import config_problems

    files = [{"object": "a", "path": "a.csv"}]
    jsonl = {"files": files, "batch_config": {"encoding": {"format": "jsonl", "compression": "zstd"}}}
    assert config_problems(jsonl) == [
        "batch_config.encoding.compression: 'zstd' is not written for jsonl batches (gzip or none)"
    ]
    gzip = {"files": files, "batch_config": {"encoding": {"format": "jsonl", "compression": "gzip"}}}
    assert config_problems(gzip) == []


def test_driver_batches_are_regrouped_into_files_of_equal_size() -> None:
    from dativo_singer.batch_emit import file_sized

    batches = [
        pa.table({"id": pa.array(range(start, start + 65_536), pa.int64())})
        for start in range(0, 16 * 65_536, 65_536)
    ]
    files = list(file_sized(batches, 250_000))
    assert [f.num_rows for f in files] == [250_000] * 4 + [16 * 65_536 - 1_000_000]
    assert pa.concat_tables(files).column("id").to_pylist() == list(range(16 * 65_536))
    # The byte cap closes a file early, whatever the row count.
    capped = list(file_sized(batches[:4], 250_000, max_bytes=65_536 * 8 * 2))
    assert [f.num_rows for f in capped] == [131_072, 131_072]
    assert list(file_sized([pa.table({"id": pa.array([], pa.int64())})], 10)) == []
