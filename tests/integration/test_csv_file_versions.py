"""tap-csv on files that grow or are edited between runs: a grown file is read from where it
stopped (its first rows proven unchanged by a checksum); an edited one is read again under a new
`_sdc_source_version`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.tap_csv_cli import messages, run_tap

pytestmark = pytest.mark.integration

SCHEMA = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}


def _sync(
    tmp_path: Path, path: Path, state: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    args: list[str] = []
    if state is not None:
        (tmp_path / "state.json").write_text(json.dumps(state))
        args = ["--state", str(tmp_path / "state.json")]
    config = {"files": [{"object": "t", "path": str(path)}], "schemas": {"t": SCHEMA}}
    result = run_tap(tmp_path, config, *args)
    assert result.returncode == 0, result.stderr
    states = messages(result.stdout, "STATE")
    return [m["record"] for m in messages(result.stdout, "RECORD")], states[-1]["value"]


def _write(path: Path, rows: list[str]) -> None:
    path.write_text("id,name\n" + "".join(f"{row}\n" for row in rows))
    stamp = path.stat().st_mtime_ns + 1_000_000_000  # a later modification time, as an edit gives
    os.utime(path, ns=(stamp, stamp))


def test_a_grown_file_is_read_from_where_it_stopped(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _write(path, ["1,a", "2,b", "3,c"])
    first, state = _sync(tmp_path, path, None)
    assert [r["id"] for r in first] == [1, 2, 3]
    version = first[0]["_sdc_source_version"]

    _write(path, ["1,a", "2,b", "3,c", "4,d", "5,e"])
    grown, state = _sync(tmp_path, path, state)
    assert [(r["id"], r["_sdc_source_lineno"]) for r in grown] == [(4, 5), (5, 6)]
    assert {r["_sdc_source_version"] for r in grown} == {version}

    again, _ = _sync(tmp_path, path, state)
    assert again == []


@pytest.mark.parametrize(
    "edited",
    [
        ["1,a", "2,B", "3,c", "4,d"],  # a value changed before the end, and a row added
        ["1,a", "2,b"],  # rows removed
        ["0,z", "1,a", "2,b", "3,c"],  # a row inserted at the top
    ],
)
def test_an_edited_file_is_read_again_under_a_new_version(tmp_path: Path, edited: list[str]) -> None:
    path = tmp_path / "t.csv"
    _write(path, ["1,a", "2,b", "3,c"])
    first, state = _sync(tmp_path, path, None)
    version = first[0]["_sdc_source_version"]

    _write(path, edited)
    again, _ = _sync(tmp_path, path, state)
    assert [f"{r['id']},{r['name']}" for r in again] == edited
    versions = {r["_sdc_source_version"] for r in again}
    assert len(versions) == 1 and version not in versions


def test_a_touched_file_emits_nothing(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _write(path, ["1,a", "2,b"])
    _, state = _sync(tmp_path, path, None)
    _write(path, ["1,a", "2,b"])  # same content, later modification time
    again, _ = _sync(tmp_path, path, state)
    assert again == []
