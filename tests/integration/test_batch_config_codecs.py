"""``batch_config`` writes what it says: plain ``.jsonl`` for ``compression: none``, gzipped
``.jsonl.gz`` for gzip, Parquet with the named codec; the BATCH message names the same
compression, and target-iceberg loads every file (standalone taps, real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.helpers.singer import TARGET

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GZIP_MAGIC = b"\x1f\x8b"


def _tap(module: str, config: dict[str, Any], tmp: Path) -> list[dict[str, Any]]:
    path = tmp / f"{module}.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        [sys.executable, "-c", f"from {module}.tap import main; main()", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _load(messages: list[dict[str, Any]], tmp: Path) -> list[dict[str, Any]]:
    """Pipe the tap's messages into target-iceberg; the rows of the table it made."""
    from target_iceberg.catalog import open_catalog
    from target_iceberg.naming import table_name_for

    config = {"warehouse_dir": str(tmp / "wh"), "namespace": "codecs", "dead_letter_dir": str(tmp / "dead")}
    (tmp / "target.json").write_text(json.dumps(config))
    stream = next(m["stream"] for m in messages if m["type"] == "SCHEMA")
    result = subprocess.run(
        [*TARGET, "--config", str(tmp / "target.json")],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = open_catalog(config).load_table(f"codecs.{table_name_for(stream, config)}")
    return table.scan().to_arrow().to_pylist()


def _files(messages: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Path]]:
    return [
        (m["encoding"], Path(url.removeprefix("file://")))
        for m in messages
        if m["type"] == "BATCH"
        for url in m["manifest"]
    ]


def _csv_config(tmp: Path, encoding: dict[str, Any]) -> dict[str, Any]:
    data = tmp / "deals.csv"
    data.write_text("id,name\n" + "".join(f"{i},name {i}\n" for i in range(1, 26)))
    return {
        "files": [{"object": "deals", "path": str(data)}],
        "schemas": {
            "deals": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
        },
        "batch_config": {
            "encoding": encoding,
            "storage": {"root": (tmp / "batches").as_uri()},
            "batch_size": 10,
        },
    }


@pytest.mark.parametrize(("compression", "suffix"), [("none", ".jsonl"), ("gzip", ".jsonl.gz")])
def test_tap_csv_jsonl_batches_follow_the_compression(compression: str, suffix: str, tmp_path: Path) -> None:
    messages = _tap(
        "tap_csv", _csv_config(tmp_path, {"format": "jsonl", "compression": compression}), tmp_path
    )
    files = _files(messages)
    assert len(files) == 3  # 25 rows, 10 a file
    for encoding, path in files:
        assert encoding == {"format": "jsonl", "compression": compression}
        assert path.name.endswith(suffix), path.name
        assert (path.read_bytes()[:2] == GZIP_MAGIC) == (compression == "gzip")
        if compression == "none":
            assert json.loads(path.read_text().splitlines()[0])["id"] >= 1  # plain JSON text
    rows = _load(messages, tmp_path)
    assert sorted(r["id"] for r in rows) == list(range(1, 26))
    assert {r["name"] for r in rows} == {f"name {i}" for i in range(1, 26)}


def _markdown_config(tmp: Path, encoding: dict[str, Any]) -> dict[str, Any]:
    return {
        "files": [{"object": "pairs", "path": "data/markdown_kv/employees/*.md", "storage": "row_per_kv"}],
        "base_dir": str(REPO),
        "batch_config": {
            "encoding": encoding,
            "storage": {"root": (tmp / "batches").as_uri()},
            "batch_size": 1000,
        },
    }


@pytest.mark.parametrize(
    ("encoding", "check"),
    [
        ({"format": "jsonl", "compression": "none"}, "plain"),
        ({"format": "parquet", "compression": "none"}, "UNCOMPRESSED"),
        ({"format": "parquet", "compression": "gzip"}, "GZIP"),
    ],
)
def test_tap_markdown_kv_batches_follow_the_encoding(
    encoding: dict[str, Any], check: str, tmp_path: Path
) -> None:
    """A tap without a columnar path of its own (its batches come from its records)."""
    config = _markdown_config(tmp_path, encoding)
    plain = _tap("tap_markdown_kv", {k: v for k, v in config.items() if k != "batch_config"}, tmp_path)
    sent = [m["record"] for m in plain if m["type"] == "RECORD"]
    messages = _tap("tap_markdown_kv", config, tmp_path)
    files = _files(messages)
    assert files and not [m for m in messages if m["type"] == "RECORD"]
    for got, path in files:
        assert got == encoding
        if check == "plain":
            assert path.name.endswith(".jsonl") and path.read_bytes()[:2] != GZIP_MAGIC
        else:
            assert path.name.endswith(".parquet")
            assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == check
    rows = _load(messages, tmp_path)
    assert len(rows) == len(sent) > 0


def test_tap_postgres_jsonl_batches_are_plain_for_none(pg_service: Any, tmp_path: Path) -> None:
    from tests.helpers.databases import discover, pg_schema, select

    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(f'CREATE TABLE "{schema}".items (id integer PRIMARY KEY, amount numeric(12,2))')
        cursor.execute(f'INSERT INTO "{schema}".items SELECT g, g / 4.0 FROM generate_series(1, 25) g')
        config: dict[str, Any] = {
            "host": pg_service.host,
            "port": pg_service.port,
            "user": pg_service.user,
            "database": pg_service.db,
            "filter_schemas": [schema],
        }
        catalog = select(discover("postgres", config, tmp_path), f"{schema}-items")
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        batches = {"encoding": {"format": "jsonl", "compression": "none"}, "batch_size": 10}
        config["batch_config"] = {**batches, "storage": {"root": (tmp_path / "batches").as_uri()}}
        (tmp_path / "tap.json").write_text(json.dumps(config))
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "from tap_postgres.tap import main; main()",
                "--config",
                str(tmp_path / "tap.json"),
                "--catalog",
                str(tmp_path / "catalog.json"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    files = _files(messages)
    assert len(files) == 3
    assert all(p.name.endswith(".jsonl") and p.read_bytes()[:2] != GZIP_MAGIC for _, p in files)
    rows = _load(messages, tmp_path)
    assert sorted((r["id"], str(r["amount"])) for r in rows) == [(i, f"{i / 4:.2f}") for i in range(1, 26)]
