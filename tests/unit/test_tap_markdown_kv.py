"""tap-markdown-kv on local files, in-process: storage rows, incremental state, config errors."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tap_markdown_kv.settings import config_problems
from tap_markdown_kv.tap import TapMarkdownKV

from dativo_singer.errors import DataValueError, FatalError
from dativo_singer.markdown_kv import MarkdownKVError

DOC = "# Team\n\n## Ana\n\n```\nid: 1\nFirst Name: Ana\nsalary: 10.50\n```\n\n## Bo\nid: 2\nFirst Name: Bo\nsalary:\n"
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "first_name": {"type": ["string", "null"]},
        "salary": {"type": ["number", "null"]},
    },
    "required": ["id"],
}


def _sync(config: dict[str, Any], state: dict[str, Any] | None = None) -> tuple[list[dict], dict]:
    tap = TapMarkdownKV(config=config, state=copy.deepcopy(state or {}), parse_env_config=False)
    [stream] = tap.streams.values()
    rows = list(stream.get_records(None))
    return rows, copy.deepcopy(tap.state)


def _config(tmp_path: Path, storage: str, **extra: Any) -> dict[str, Any]:
    return {
        "files": [{"object": "team", "path": "docs", "storage": storage}],
        "base_dir": str(tmp_path),
        **extra,
    }


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text(DOC)
    (tmp_path / "docs" / "notes.txt").write_text("not markdown, not read")
    return tmp_path / "docs"


def test_document_rows_typed_by_schema_keys_matched_by_name(tmp_path: Path, docs: Path) -> None:
    rows, _ = _sync(_config(tmp_path, "document", schemas={"team": SCHEMA}))
    assert [(r["id"], r["first_name"], r["salary"]) for r in rows] == [(1, "Ana", 10.5), (2, "Bo", None)]
    assert [(r["_sdc_source_file"], r["_sdc_source_lineno"]) for r in rows] == [
        ("docs/a.md", 3),
        ("docs/a.md", 11),
    ]


def test_document_without_schema_every_key_a_string(tmp_path: Path, docs: Path) -> None:
    rows, _ = _sync(_config(tmp_path, "document"))
    assert [{k: v for k, v in r.items() if not k.startswith("_sdc")} for r in rows] == [
        {"id": "1", "First Name": "Ana", "salary": "10.50"},
        {"id": "2", "First Name": "Bo", "salary": ""},
    ]


def test_a_value_that_does_not_parse_names_file_line_and_column(tmp_path: Path, docs: Path) -> None:
    (docs / "a.md").write_text("## X\nid: one\n")
    with pytest.raises(DataValueError, match=r"^docs/a\.md line 1 column id: 'one' is not an integer"):
        _sync(_config(tmp_path, "document", schemas={"team": SCHEMA}))


def test_incremental_skip_touch_resume_and_edit(tmp_path: Path, docs: Path) -> None:
    config = _config(tmp_path, "row_per_kv")
    rows, state = _sync(config)
    assert len(rows) == 6
    first_version = rows[0]["_sdc_source_version"]
    assert _sync(config, state)[0] == []  # unchanged
    os.utime(docs / "a.md", ns=(1, 1))
    rows, state = _sync(config, state)
    assert rows == []  # touched: same SHA-256
    entry = state["bookmarks"]["team"]["files"][str((docs / "a.md").resolve())]
    assert entry["mtime_ns"] == 1
    entry.update(rows=4, done=False)  # as if stopped after four rows
    rows, state = _sync(config, state)
    assert [(r["key"], r["value"]) for r in rows] == [("First Name", "Bo"), ("salary", "")]
    assert {r["_sdc_source_version"] for r in rows} == {first_version}
    (docs / "a.md").write_text(DOC.replace("Bo\n", "Bob\n"))
    rows, _ = _sync(config, state)
    assert len(rows) == 6 and rows[4]["value"] == "Bob"
    assert {r["_sdc_source_version"] for r in rows} != {first_version}


def test_malformed_document_stops_before_its_rows(tmp_path: Path, docs: Path) -> None:
    (docs / "b.md").write_text("## B\n```\nid: 3\n")
    with pytest.raises(MarkdownKVError, match=r"^docs/b\.md line 2: this fenced block is never closed$"):
        _sync(_config(tmp_path, "row_per_kv"))


def test_fixed_pattern_refuses_another_schema(tmp_path: Path, docs: Path) -> None:
    with pytest.raises(FatalError, match=r"schemas.team: storage 'string' has the columns .*missing"):
        _sync(_config(tmp_path, "string", schemas={"team": SCHEMA}))


def test_config_problems_in_one_list() -> None:
    files = [
        {"object": "a", "path": "x", "storage": "blob"},
        {"object": "b", "path": "y", "storage": "raw"},
        {"object": "b", "path": "z", "storage": "string"},
        {"path": "w"},
    ]
    assert config_problems({"files": files}) == [
        "files[0].storage: 'blob' is not one of string, raw, row_per_kv, document, hybrid",
        "files[2].storage: object 'b' is already read as 'raw'",
        "files[3]: 'object' is required",
    ]


def test_console_script_exit_2_one_line(tmp_path: Path, docs: Path) -> None:
    (docs / "b.md").write_text("## B\nid: 3\n### deeper\n")
    config = tmp_path / "c.json"
    config.write_text(json.dumps(_config(tmp_path, "document", s3_secret_access_key="hush-123")))
    result = subprocess.run(
        [sys.executable, "-c", "from tap_markdown_kv.tap import main; main()", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "tap-markdown-kv: error: docs/b.md line 3: only a '# title' and '## record' headings are allowed"
    )
    assert "hush-123" not in result.stderr + result.stdout


def test_two_keys_filling_one_column_is_an_error(tmp_path: Path, docs: Path) -> None:
    (docs / "a.md").write_text("## X\nid: 1\nFirst Name: A\nfirst_name: B\n")
    with pytest.raises(
        FatalError,
        match=r"^docs/a\.md line 1: keys 'First Name' and 'first_name' both fill column 'first_name'$",
    ):
        _sync(_config(tmp_path, "document", schemas={"team": SCHEMA}))
