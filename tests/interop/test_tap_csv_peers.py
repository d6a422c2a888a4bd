"""Our tap-csv into MeltanoLabs target-csv and into target-jsonl (PyPI; each in its own venv):
the files those targets write hold exactly the source's values."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import peer_executable, pipe, write_json

pytestmark = pytest.mark.integration

SOURCE = (
    "id,name,amount,ts,flag\n"
    '9007199254740993,"Zoë, ""the"" Ångström 🚀",12.50,2024-01-03T10:15:00Z,true\n'
    '2,"multi\nline",,2024-02-01T00:00:00+02:00,false\n'
    "\n"
    "3,,-0.000001,,\n"
    "-9223372036854775808,日本語,1e3,2024-12-31T23:59:59.999999Z,FALSE\n"
)
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "amount": {"type": ["number", "null"]},
        "ts": {"type": ["string", "null"], "format": "date-time"},
        "flag": {"type": ["boolean", "null"]},
    },
    "required": ["id"],
}
# Records as the tap types them (tap-csv normalizes date-times to ISO 8601 with an offset).
RECORDS = [
    {
        "id": 9007199254740993,
        "name": 'Zoë, "the" Ångström 🚀',
        "amount": 12.5,
        "ts": "2024-01-03T10:15:00+00:00",
        "flag": True,
        "_sdc_source_file": "people.csv",
        "_sdc_source_lineno": 2,
    },
    {
        "id": 2,
        "name": "multi\nline",
        "amount": None,
        "ts": "2024-02-01T00:00:00+02:00",
        "flag": False,
        "_sdc_source_file": "people.csv",
        "_sdc_source_lineno": 3,
    },
    {
        "id": 3,
        "name": None,
        "amount": -0.000001,
        "ts": None,
        "flag": None,
        "_sdc_source_file": "people.csv",
        "_sdc_source_lineno": 6,
    },
    {
        "id": -9223372036854775808,
        "name": "日本語",
        "amount": 1000.0,
        "ts": "2024-12-31T23:59:59.999999+00:00",
        "flag": False,
        "_sdc_source_file": "people.csv",
        "_sdc_source_lineno": 7,
    },
]


@pytest.fixture
def tap(tmp_path: Path, our_bin: Path) -> list[str | Path]:
    """tap-csv over one file with awkward values, as an argv."""
    (tmp_path / "people.csv").write_text(SOURCE, encoding="utf-8")
    config = write_json(
        tmp_path / "tap.json",
        {
            "base_dir": str(tmp_path),
            "files": [{"object": "people", "path": "people.csv"}],
            "schemas": {"people": SCHEMA},
            "key_properties": {"people": ["id"]},
        },
    )
    return [our_bin / "tap-csv", "--config", config]


def _last_state(messages: bytes) -> dict[str, Any]:
    states = [m["value"] for m in map(json.loads, messages.splitlines()) if m["type"] == "STATE"]
    return states[-1]


def _file_version(messages: bytes) -> str:
    """The content version tap-csv gave people.csv (in its bookmark and on every record)."""
    (entry,) = _last_state(messages)["bookmarks"]["people"]["files"].values()
    assert entry["version"]
    return str(entry["version"])


def test_tap_csv_into_meltanolabs_target_csv(tmp_path: Path, tap: list[str | Path]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    config = write_json(tmp_path / "target-csv.json", {"destination_path": str(out)})
    sent, emitted = pipe(tap, [peer_executable("target-csv"), "--config", config], cwd=tmp_path)

    assert [p.name for p in out.iterdir()] == ["people.csv"]
    with (out / "people.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # target-csv writes Python's str() of each typed value, an empty cell for null.
    version = _file_version(sent)
    assert [row.pop("_sdc_source_version") for row in rows] == [version] * 4
    assert rows == [
        {
            "id": "9007199254740993",
            "name": 'Zoë, "the" Ångström 🚀',
            "amount": "12.5",
            "ts": "2024-01-03 10:15:00+00:00",
            "flag": "True",
            "_sdc_source_file": "people.csv",
            "_sdc_source_lineno": "2",
        },
        {
            "id": "2",
            "name": "multi\nline",
            "amount": "",
            "ts": "2024-02-01 00:00:00+02:00",
            "flag": "False",
            "_sdc_source_file": "people.csv",
            "_sdc_source_lineno": "3",
        },
        {
            "id": "3",
            "name": "",
            "amount": "-0.000001",
            "ts": "",
            "flag": "",
            "_sdc_source_file": "people.csv",
            "_sdc_source_lineno": "6",
        },
        {
            "id": "-9223372036854775808",
            "name": "日本語",
            "amount": "1000.0",
            "ts": "2024-12-31 23:59:59.999999+00:00",
            "flag": "False",
            "_sdc_source_file": "people.csv",
            "_sdc_source_lineno": "7",
        },
    ]
    # The target passes our bookmark on unchanged.
    assert json.loads(emitted.splitlines()[-1]) == _last_state(sent)


def test_tap_csv_into_target_jsonl(tmp_path: Path, tap: list[str | Path]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    config = write_json(
        tmp_path / "target-jsonl.json", {"destination_path": str(out), "do_timestamp_file": False}
    )
    sent, emitted = pipe(tap, [peer_executable("target-jsonl"), "--config", config], cwd=tmp_path)

    assert [p.name for p in out.iterdir()] == ["people.jsonl"]
    lines = (out / "people.jsonl").read_text(encoding="utf-8").splitlines()
    version = _file_version(sent)
    assert [json.loads(line) for line in lines] == [{**r, "_sdc_source_version": version} for r in RECORDS]
    assert json.loads(emitted.splitlines()[-1]) == _last_state(sent)
    state = _last_state(sent)["bookmarks"]["people"]["files"]
    assert [(Path(p).name, f["rows"], f["done"]) for p, f in state.items()] == [("people.csv", 4, True)]
