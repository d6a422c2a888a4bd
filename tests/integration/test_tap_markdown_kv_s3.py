"""tap-markdown-kv on SeaweedFS S3: a prefix, a glob, raw bytes, incremental state, bad keys."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tap_markdown_kv.tap import TapMarkdownKV

from dativo_singer.errors import RetriableError
from tests import services
from tests.conftest_services import unique_suffix

pytestmark = pytest.mark.integration

DOC_A = "# A\n\n## One\n\n```\nid: 1\nname: Ana\n```\n"
DOC_B = "## Two\r\nid: 2\r\nname: Bo\r\n"


@pytest.fixture
def s3(seaweedfs_service: services.SeaweedFSService, request: pytest.FixtureRequest) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    sw = seaweedfs_service
    bucket = services.ensure_s3_bucket()
    client = boto3.client(
        "s3",
        endpoint_url=sw.s3_endpoint,
        aws_access_key_id=sw.access_key,
        aws_secret_access_key=sw.secret_key,
        region_name=sw.region,
        config=Config(s3={"addressing_style": "path"}),
    )
    prefix = f"mdkv-{unique_suffix(request)}"
    for key, body in (("docs/a.md", DOC_A), ("docs/sub/b.md", DOC_B), ("docs/readme.txt", "not read")):
        client.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=body.encode())
    settings = {
        "s3_endpoint_url": sw.s3_endpoint,
        "s3_access_key_id": sw.access_key,
        "s3_secret_access_key": sw.secret_key,
        "s3_region": sw.region,
    }
    return {
        "client": client,
        "bucket": bucket,
        "root": f"s3://{bucket}/{prefix}",
        "prefix": prefix,
        "settings": settings,
    }


def _sync(config: dict[str, Any], state: dict[str, Any] | None = None) -> tuple[dict[str, list[dict]], dict]:
    tap = TapMarkdownKV(config=config, state=copy.deepcopy(state or {}), parse_env_config=False)
    rows = {name: list(stream.get_records(None)) for name, stream in tap.streams.items()}
    return rows, copy.deepcopy(tap.state)


def test_prefix_glob_raw_and_incremental(s3: dict[str, Any]) -> None:
    root = s3["root"]
    config = {
        "files": [
            {"object": "pairs", "path": f"{root}/docs", "storage": "row_per_kv"},
            {"object": "raw", "path": f"{root}/docs/**/*.md", "storage": "raw"},
            {"object": "one", "path": f"{root}/docs/a.md", "storage": "string"},
        ],
        **s3["settings"],
    }
    rows, state = _sync(config)
    assert [(r["path"], r["record_index"], r["heading"], r["key"], r["value"]) for r in rows["pairs"]] == [
        (f"{root}/docs/a.md", 0, "One", "id", "1"),
        (f"{root}/docs/a.md", 0, "One", "name", "Ana"),
        (f"{root}/docs/sub/b.md", 0, "Two", "id", "2"),
        (f"{root}/docs/sub/b.md", 0, "Two", "name", "Bo"),
    ]
    assert {r["path"]: base64.b64decode(r["content"]).decode() for r in rows["raw"]} == {
        f"{root}/docs/a.md": DOC_A,
        f"{root}/docs/sub/b.md": DOC_B,
    }
    assert {r["size"] for r in rows["raw"]} == {len(DOC_A), len(DOC_B)}
    assert [(r["path"], r["title"], r["markdown"]) for r in rows["one"]] == [
        (f"{root}/docs/a.md", "A", DOC_A)
    ]

    assert _sync(config, state)[0] == {"pairs": [], "raw": [], "one": []}
    s3["client"].put_object(Bucket=s3["bucket"], Key=f"{s3['prefix']}/docs/sub/b.md", Body=DOC_B.encode())
    assert _sync(config, state)[0] == {"pairs": [], "raw": [], "one": []}  # rewritten with the same bytes
    s3["client"].put_object(
        Bucket=s3["bucket"], Key=f"{s3['prefix']}/docs/sub/b.md", Body=DOC_B.replace("Bo", "Bea").encode()
    )
    rows, _ = _sync(config, state)
    assert rows["one"] == []
    assert [r["value"] for r in rows["pairs"]] == ["2", "Bea"]
    assert [r["path"] for r in rows["raw"]] == [f"{root}/docs/sub/b.md"]


def test_wrong_secret_is_one_line_without_the_secret(s3: dict[str, Any], tmp_path: Path) -> None:
    config = {
        "files": [{"object": "pairs", "path": f"{s3['root']}/docs", "storage": "row_per_kv"}],
        **s3["settings"],
        "s3_secret_access_key": "wrong-secret-4711",
    }
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        [sys.executable, "-c", "from tap_markdown_kv.tap import main; main()", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("tap-markdown-kv: error:")]
    assert line.startswith(f"tap-markdown-kv: error: files[0].path: cannot read {s3['root']}/docs on ")
    assert "wrong-secret-4711" not in result.stderr + result.stdout


def test_unreachable_endpoint_is_retriable() -> None:
    config = {
        "files": [{"object": "pairs", "path": "s3://lake/none/", "storage": "row_per_kv"}],
        "s3_endpoint_url": "http://127.0.0.1:9",
        "s3_access_key_id": "k",
        "s3_secret_access_key": "s",
    }
    with pytest.raises(
        RetriableError, match=r"^files\[0\]\.path: cannot reach s3://lake/none/ on http://127\.0\.0\.1:9: "
    ):
        _sync(config)
