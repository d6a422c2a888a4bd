"""Markdown-KV with target-objects: raw file storage into a bucket, and any stream rendered as
Markdown-KV documents that tap-markdown-kv reads back as the same records."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tap_csv.tap import TapCSV
from tap_markdown_kv.tap import TapMarkdownKV
from target_objects.settings import object_settings

from dativo_singer.errors import FatalError
from tests import services
from tests.helpers import objects
from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration

DOCS = "data/markdown_kv/employees"

# Cells that exercise the escaping rule: commas, quotes, colons, a line break, a URL, emoji,
# surrounding spaces, a value starting with '"', empty (null) cells.
CSV_TEXT = (
    "deal_id,deal_name,notes,amount,is_won,created_at,close_date\n"
    '1,"Acme: Platform, phase 2","line one\nline two",1200.50,true,2024-03-01T10:00:00Z,2024-04-01\n'
    '2,Beta 🚀,"  padded  ",99.99,false,2024-03-02T11:30:00+02:00,\n'
    '3,"""Quoted"" deal",see https://x.example/a?b=c:d,,,2024-03-03T00:00:00Z,\n'
    "4,## not a heading,```,0.01,no,2024-03-04T00:00:00Z,2024-05-05\n"
)
SCHEMA = {
    "type": "object",
    "properties": {
        "deal_id": {"type": "integer"},
        "deal_name": {"type": "string"},
        "notes": {"type": ["string", "null"]},
        "amount": {"type": ["number", "null"], "multipleOf": 0.01},
        "is_won": {"type": ["boolean", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "close_date": {"type": ["string", "null"], "format": "date"},
    },
    "required": ["deal_id", "deal_name", "created_at"],
}


def _records(tap: Any) -> list[dict[str, Any]]:
    """The stream's records without metadata; timestamps as instants (files keep them in UTC)."""
    [stream] = tap.streams.values()
    records = [{k: v for k, v in r.items() if not k.startswith("_sdc_")} for r in stream.get_records(None)]
    for record in records:
        record["created_at"] = dt.datetime.fromisoformat(record["created_at"])
    return records


def test_csv_rendered_as_markdown_kv_reads_back_as_the_same_records(tmp_path: Path) -> None:
    (tmp_path / "deals.csv").write_text(CSV_TEXT, encoding="utf-8")
    tap_config = {
        "files": [{"object": "deals", "path": "deals.csv"}],
        "base_dir": str(tmp_path),
        "schemas": {"deals": SCHEMA},
    }
    target_config = {
        "storage": "local",
        "local_dir": str(tmp_path / "bucket"),
        "tenant": "acme",
        "format": "markdown_kv",
        "markdown_kv_heading_field": "deal_name",
        "file_max_rows": 3,
        "dead_letter_dir": str(tmp_path / "dead"),
    }
    for name, config in (("tap.json", tap_config), ("target.json", target_config)):
        (tmp_path / name).write_text(json.dumps(config))
    tap = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tap_csv.tap import main; main()",
            "--config",
            str(tmp_path / "tap.json"),
        ],
        stdout=subprocess.PIPE,
    )
    target = subprocess.run(
        [
            sys.executable,
            "-c",
            "from target_objects.target import main; main()",
            "--config",
            str(tmp_path / "target.json"),
        ],
        stdin=tap.stdout,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tap.wait(timeout=60) == 0 and target.returncode == 0, target.stderr

    documents = sorted((tmp_path / "bucket" / "acme" / "deals").rglob("*.md"))
    assert len(documents) == 2  # file_max_rows: 3
    first = documents[0].read_text(encoding="utf-8")
    assert first.startswith(
        '## Acme: Platform, phase 2\n\n```\ndeal_id: 1\ndeal_name: Acme: Platform, phase 2\nnotes: "line one\\nline two"\n'
    )
    assert '## "\\"Quoted\\" deal"' in first

    read_config = {
        "files": [{"object": "deals", "path": "bucket", "storage": "document"}],
        "base_dir": str(tmp_path),
        "schemas": {"deals": SCHEMA},
    }
    rendered = _records(TapMarkdownKV(config=read_config, parse_env_config=False))
    original = _records(TapCSV(config=tap_config, parse_env_config=False))
    assert rendered == original
    assert [r["deal_id"] for r in original] == [1, 2, 3, 4]
    assert original[1]["notes"] == "  padded  " and original[2]["amount"] is None


def test_raw_storage_copies_files_unchanged(
    project: Project, seaweedfs_service: services.SeaweedFSService
) -> None:
    shutil.copytree(REPO / DOCS, project.root / DOCS)
    prefix = objects.unique_prefix("mdkv-raw")
    job = (
        (REPO / "jobs/acme/markdown_kv_files_to_s3.yaml")
        .read_text()
        .replace("prefix: markdown", f"prefix: {prefix}")
    )
    path = project.write("jobs/acme/files.yaml", job)
    env = {
        "S3_ACCESS_KEY_ID": seaweedfs_service.access_key,
        "S3_SECRET_ACCESS_KEY": seaweedfs_service.secret_key,
        "S3_ENDPOINT": seaweedfs_service.s3_endpoint,
    }
    code, summary, stderr = project.run_json("--config", str(path), env=env)
    assert code == 0, stderr
    assert summary["streams"][0]["rows"] == 2
    bucket = objects.s3_bucket()
    root = f"{prefix}/acme/files"
    expected = {f"{root}/{DOCS}/{p.name}": p.read_bytes() for p in sorted((project.root / DOCS).glob("*.md"))}
    data_keys = [k for k in bucket.keys(root + "/") if "/_manifests/" not in k]
    assert data_keys == sorted(expected)
    for key, data in expected.items():
        assert bucket.get(key) == data
        assert bucket.metadata(key)["dativo_asset"] == "markdown_kv_files"
    [manifest_key] = [k for k in bucket.keys(root + "/_manifests/")]
    manifest = json.loads(bucket.get(manifest_key))
    assert manifest["format"] == "raw"
    assert {f["key"]: f["sha256"] for f in manifest["files"]} == {
        key: hashlib.sha256(data).hexdigest() for key, data in expected.items()
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"format": "jsonl", "markdown_kv_heading_field": "x"},
            "only used with format markdown_kv, not jsonl",
        ),
        ({"format": "raw", "compression": "gzip"}, "format 'raw' writes each file unchanged"),
        ({"format": "raw", "key_template": "{run_id}-{n}.{ext}"}, "format 'raw' writes each file unchanged"),
    ],
)
def test_target_objects_refuses_settings_it_cannot_honour(config: dict[str, Any], message: str) -> None:
    with pytest.raises(FatalError, match=message):
        object_settings({"storage": "local", **copy.deepcopy(config)})
