"""A standalone target-iceberg fed by a peer tap (raw values) keeps applying its column
policies, at every depth and in its dead letters and logs; told the values arrive protected
(``column_policies_applied``, as `dativo run` plans it), it does not hash them a second time."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from target_iceberg.catalog import open_catalog

from tests.helpers.singer import records, run_target, schema, state

pytestmark = pytest.mark.integration

PROPS = {
    "id": {"type": "integer"},
    "email": {"type": ["string", "null"]},
    "born": {"type": ["string", "null"], "format": "date"},
    "profile": {
        "type": ["object", "null"],
        "properties": {"email": {"type": ["string", "null"]}, "tier": {"type": ["string", "null"]}},
    },
}
POLICIES = {"email": "hash", "profile.email": "hash"}
ROWS = [
    {"id": 1, "email": "a@x.io", "born": "2000-01-01", "profile": {"email": "p@x.io", "tier": "gold"}},
    {"id": 2, "email": "b@x.io", "born": "not a date", "profile": {"email": "q@x.io", "tier": "x"}},
]


def _h(text: str) -> str:
    return hashlib.sha256(b"pepper" + text.encode()).hexdigest()


def _config(tmp: Path, nested: str, **extra: Any) -> dict[str, Any]:
    return {
        "warehouse_dir": str(tmp / "wh"),
        "namespace": "t",
        "dead_letter_dir": str(tmp / "dead"),
        "nested": nested,
        "column_policies": POLICIES,
        "hash_salt": "pepper",
        **extra,
    }


@pytest.mark.parametrize("compact", [False, True], ids=["per-record", "bulk-lines"])
@pytest.mark.parametrize("nested", ["struct", "json"])
def test_a_standalone_target_protects_nested_values_and_its_dead_letters(
    tmp_path: Path, nested: str, compact: bool
) -> None:
    config = _config(tmp_path, nested)
    messages = [schema("people", PROPS, ["id"]), *records("people", ROWS), state({"s": 1})]
    result = run_target(config, messages, tmp_path, compact=compact)
    [row] = open_catalog(config).load_table("t.people").scan().to_arrow().to_pylist()
    profile = row["profile"] if nested == "struct" else json.loads(row["profile"])
    assert row["email"] == _h("a@x.io") and profile == {"email": _h("p@x.io"), "tier": "gold"}
    [dead] = list((tmp_path / "dead").rglob("*.jsonl"))
    text = dead.read_text()
    assert "b@x.io" not in text and "q@x.io" not in text
    [entry] = [json.loads(line) for line in text.splitlines()]
    assert "born" in entry["reason"] and "raw" not in entry
    assert entry["record"]["email"] == _h("b@x.io") and entry["record"]["born"] == "not a date"
    assert "b@x.io" not in result.stderr and "q@x.io" not in result.stderr


def test_values_protected_upstream_are_not_hashed_again(tmp_path: Path) -> None:
    config = _config(tmp_path, "struct", column_policies_applied=True)
    hashed = {**ROWS[0], "email": _h("a@x.io"), "profile": {"email": _h("p@x.io"), "tier": "gold"}}
    run_target(config, [schema("people", PROPS, ["id"]), *records("people", [hashed]), state({"s": 1})], tmp_path)
    [row] = open_catalog(config).load_table("t.people").scan().to_arrow().to_pylist()
    assert row["email"] == _h("a@x.io") and row["profile"]["email"] == _h("p@x.io")
