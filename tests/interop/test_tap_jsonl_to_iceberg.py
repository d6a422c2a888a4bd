"""tap-jsonl (PyPI, a singer-sdk tap; its own venv) piped into our target-iceberg, then a second
run from the STATE the target emitted: values read back with pyiceberg.

tap-jsonl declares key properties and a bookmark (file mtime) for its stream, so target-iceberg
merges on the key."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.interop.conftest import iceberg_rows, peer_executable, pipe, write_json

pytestmark = pytest.mark.integration

FIRST = [
    {"id": 1, "name": "Zoë 🚀", "doc": {"x": 1, "list": [1, "a", None]}, "mixed": 5, "big": 2**53 + 1},
    {"id": 2, "name": None, "doc": None, "mixed": "five", "big": -(2**63)},
    {"id": 3, "name": '日本\n"q"', "doc": {"x": [1, 2]}, "mixed": 2.5, "big": 2**63 - 1},
]
HUGE = {"id": 4, "name": "above int64", "doc": {}, "mixed": "5", "big": 2**64 - 1}
SECOND = [
    {"id": 5, "name": "second run", "doc": {"y": True}, "mixed": 7, "big": 0},
]


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _json_or_text(value: Any) -> Any:
    """A JSON-text cell parsed back; a cell that is not JSON is returned marked as such."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return ("not JSON text", value)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, our_bin: Path) -> dict[str, Any]:
    """Two runs of tap-jsonl | target-iceberg; the table after each, and the states."""
    work = tmp_path_factory.mktemp("tap-jsonl")
    data = work / "data"
    data.mkdir()
    _jsonl(data / "a.jsonl", [*FIRST, HUGE])
    tap = peer_executable("tap-jsonl")
    tap_config = write_json(
        work / "tap.json",
        {
            "path": str(data / "*.jsonl"),
            "stream_name": "events",
            "primary_keys": ["id"],
        },
    )
    target = [
        our_bin / "target-iceberg",
        "--config",
        write_json(
            work / "target.json",
            {
                "warehouse_dir": str(work / "warehouse"),
                "namespace": "jl",
                "dead_letter_dir": str(work / "dead_letter"),
            },
        ),
    ]
    _, emitted = pipe([tap, "--config", tap_config], target, cwd=work)
    first_rows = iceberg_rows(work / "warehouse", "jl.events", "id")
    state_path = write_json(work / "state.json", json.loads(emitted.splitlines()[-1]))
    first_dead_letters = [
        json.loads(line, parse_float=Decimal)
        for path in sorted((work / "dead_letter").rglob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]

    _jsonl(data / "b.jsonl", SECOND)
    sent_again, emitted_again = pipe([tap, "--config", tap_config, "--state", state_path], target, cwd=work)
    return {
        "dead_letters": first_dead_letters,
        "first": {r["id"]: r for r in first_rows},
        "second": {r["id"]: r for r in iceberg_rows(work / "warehouse", "jl.events", "id")},
        "state": json.loads(emitted_again.splitlines()[-1]),
        "resent": sorted(
            m["record"]["id"] for m in map(json.loads, sent_again.splitlines()) if m["type"] == "RECORD"
        ),
    }


def test_strings_integers_and_objects_read_back_exactly(runs: dict[str, Any]) -> None:
    got = {i: (r["name"], r["big"], _json_or_text(r["doc"])) for i, r in runs["first"].items() if i != 4}
    assert got == {r["id"]: (r["name"], r["big"], r["doc"]) for r in FIRST}


def test_second_run_from_the_emitted_state_lands_each_row_once(runs: dict[str, Any]) -> None:
    """tap-jsonl's bookmark is inclusive (file mtime >= bookmark, at one-second resolution), so it
    may send rows again; target-iceberg merges on the key properties: every row once."""
    assert 5 in runs["resent"]
    new = {i: r for i, r in runs["second"].items() if i not in runs["first"]}
    assert {i: (r["name"], r["big"], _json_or_text(r["doc"])) for i, r in new.items()} == {
        5: ("second run", 0, {"y": True})
    }
    assert {i: r for i, r in runs["second"].items() if i in runs["first"]} == runs["first"]
    assert sorted(runs["second"]) == sorted([*runs["first"], 5])
    partitions = runs["state"]["bookmarks"]["events"]["partitions"]
    assert sorted(Path(p["context"]["_sdc_filename"]).name for p in partitions) == ["a.jsonl", "b.jsonl"]


def test_integer_above_int64_is_dead_lettered_exactly(runs: dict[str, Any]) -> None:
    """tap-jsonl types `big` a plain JSON `integer` (no bounds): an Iceberg long. 2^64-1 does not
    fit, so its record is dead-lettered (never stored altered), with the value exact and the
    RECORD line as it came."""
    assert 4 not in runs["first"]
    [dead] = runs["dead_letters"]
    assert dead["reason"] == "field 'big': 18446744073709551615 is not a valid int64"
    assert dead["record"]["big"] == 2**64 - 1
    assert {k: v for k, v in json.loads(dead["raw"])["record"].items() if not k.startswith("_sdc_")} == HUGE
    assert '"big":18446744073709551615' in dead["raw"]


def test_mixed_type_column_reads_back_as_json(runs: dict[str, Any]) -> None:
    """tap-jsonl infers [integer, null, number, string]: a JSON-text column where every value is
    its JSON encoding, so the string "five" is '"five"' and 5 is '5'."""
    got = {i: _json_or_text(r["mixed"]) for i, r in runs["first"].items() if i != 4}
    assert got == {r["id"]: r["mixed"] for r in FIRST}
    assert runs["first"][2]["mixed"] == '"five"'
    assert runs["first"][1]["mixed"] == "5"
