"""target-iceberg behaviour on every catalog x store combination (SQLite/PostgreSQL/REST; file/S3/Azure)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from target_iceberg.catalog import open_catalog

from tests.helpers import duckdb_reader
from tests.helpers.singer import emitted_states, records, run_target, schema, state

pytestmark = pytest.mark.integration

PROPS = {
    "id": {"type": "integer"},
    "name": {"type": ["string", "null"]},
    "amount": {"type": ["number", "null"], "multipleOf": 0.01, "maximum": 99999.99},
    "score": {"type": ["number", "null"]},
    "active": {"type": ["boolean", "null"]},
    "born": {"type": ["string", "null"], "format": "date"},
    "seen_at": {"type": ["string", "null"], "format": "date-time"},
    "opens": {"type": ["string", "null"], "format": "time"},
    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
    "meta": {"type": ["object", "null"], "properties": {"k": {"type": "string"}}},
}


def _rows(ids: range, suffix: str = "") -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "name": f"n{i}{suffix}",
            "amount": round(i * 1.25, 2),
            "score": i / 4,
            "active": i % 2 == 0,
            "born": f"2020-01-{i % 28 + 1:02d}",
            "seen_at": f"2024-05-01T10:{i % 60:02d}:00Z",
            "opens": "09:30:00",
            "tags": ["a", str(i)],
            "meta": {"k": f"v{i}"},
        }
        for i in ids
    ]


def _config(props: dict[str, str], namespace: str, tmp: Path, **extra: Any) -> dict[str, Any]:
    return {"catalog": props, "namespace": namespace, "dead_letter_dir": str(tmp / "dead"), **extra}


def _table(props: dict[str, str], identifier: str):
    return open_catalog({"catalog": props}).load_table(identifier)


def test_append_types_and_bookmark(catalog_props, catalog_namespace, tmp_path) -> None:
    messages = [schema("people", PROPS, ["id"]), *records("people", _rows(range(1, 6))), state({"pos": 5})]
    result = run_target(_config(catalog_props, catalog_namespace, tmp_path), messages, tmp_path)

    assert emitted_states(result) == [{"pos": 5}]
    table = _table(catalog_props, f"{catalog_namespace}.people")
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert len(rows) == 5
    first = rows[0]
    assert first["amount"] == Decimal("1.25")
    assert first["score"] == 0.25
    assert first["active"] is False
    assert first["born"] == dt.date(2020, 1, 2)
    assert first["seen_at"] == dt.datetime(2024, 5, 1, 10, 1, tzinfo=dt.timezone.utc)
    assert first["opens"] == dt.time(9, 30)
    assert first["tags"] == '["a","1"]' and first["meta"] == '{"k":"v1"}'
    types = {f.name: str(f.field_type) for f in table.schema().fields}
    assert types["amount"] == "decimal(7, 2)" and types["seen_at"] == "timestamptz"
    assert types["born"] == "date" and types["opens"] == "time" and types["id"] == "long"
    assert table.schema().find_field("id").required
    assert table.current_snapshot().summary["dativo.singer-state"] == '{"pos": 5}'


@pytest.mark.parametrize("compact", [False, True], ids=["per-record", "bulk-lines"])
def test_merge_upserts_by_key(catalog_props, catalog_namespace, tmp_path, compact: bool) -> None:
    config = _config(catalog_props, catalog_namespace, tmp_path, write_mode="merge")
    first = [schema("people", PROPS, ["id"]), *records("people", _rows(range(1, 11))), state({"p": 1})]
    run_target(config, first, tmp_path, compact=compact)
    changed = _rows(range(5, 13), suffix="-v2") + _rows(range(12, 13), suffix="-v3")  # 12 twice
    run_target(
        config, [schema("people", PROPS, ["id"]), *records("people", changed), state({"p": 2})], tmp_path
    )

    table = _table(catalog_props, f"{catalog_namespace}.people")
    names = {r["id"]: r["name"] for r in table.scan().to_arrow().to_pylist()}
    assert sorted(names) == list(range(1, 13))
    assert names[4] == "n4" and names[5] == "n5-v2" and names[11] == "n11-v2"
    assert names[12] == "n12-v3"  # the later duplicate inside one batch wins
    if table.metadata_location.startswith("file://"):  # an independent reader agrees
        rows = duckdb_reader.scan(table.metadata_location, "SELECT id, name FROM t ORDER BY id")
        assert dict(rows) == names


def test_schema_update_mid_stream_adds_columns(catalog_props, catalog_namespace, tmp_path) -> None:
    wider = {**PROPS, "email": {"type": ["string", "null"]}}
    messages = [
        schema("people", PROPS, ["id"]),
        *records("people", _rows(range(1, 3))),
        schema("people", wider, ["id"]),
        *records("people", [{**r, "email": f"{r['id']}@x.io"} for r in _rows(range(3, 5))]),
        state({"p": 1}),
    ]
    run_target(_config(catalog_props, catalog_namespace, tmp_path), messages, tmp_path)
    table = _table(catalog_props, f"{catalog_namespace}.people")
    emails = {r["id"]: r["email"] for r in table.scan().to_arrow().to_pylist()}
    assert emails == {1: None, 2: None, 3: "3@x.io", 4: "4@x.io"}


def test_overwrite_replaces_the_table(catalog_props, catalog_namespace, tmp_path) -> None:
    base = [schema("people", PROPS, ["id"]), *records("people", _rows(range(1, 6))), state({"p": 1})]
    run_target(_config(catalog_props, catalog_namespace, tmp_path), base, tmp_path)
    replace = [schema("people", PROPS, ["id"]), *records("people", _rows(range(100, 103))), state({"p": 2})]
    run_target(_config(catalog_props, catalog_namespace, tmp_path, write_mode="overwrite"), replace, tmp_path)
    table = _table(catalog_props, f"{catalog_namespace}.people")
    assert sorted(table.scan().to_arrow().column("id").to_pylist()) == [100, 101, 102]


def test_partitioned_table(catalog_props, catalog_namespace, tmp_path) -> None:
    config = _config(
        catalog_props, catalog_namespace, tmp_path, partitioning=["day(seen_at)", "bucket(4, id)"]
    )
    rows = _rows(range(1, 9))
    for row in rows:
        row["seen_at"] = f"2024-05-0{row['id'] % 2 + 1}T12:00:00Z"
    run_target(config, [schema("people", PROPS, ["id"]), *records("people", rows), state({"p": 1})], tmp_path)
    table = _table(catalog_props, f"{catalog_namespace}.people")
    assert [f.name for f in table.spec().fields] == ["seen_at_day", "id_bucket"]
    partitions = table.inspect.partitions().to_pylist()
    days = {p["partition"]["seen_at_day"] for p in partitions}
    assert days == {dt.date(2024, 5, 1), dt.date(2024, 5, 2)}
    assert sum(p["record_count"] for p in partitions) == 8


def test_branch_write_leaves_main_alone(catalog_props, catalog_namespace, tmp_path) -> None:
    base = [schema("people", PROPS, ["id"]), *records("people", _rows(range(1, 4))), state({"p": 1})]
    run_target(_config(catalog_props, catalog_namespace, tmp_path), base, tmp_path)
    more = [schema("people", PROPS, ["id"]), *records("people", _rows(range(4, 6))), state({"p": 2})]
    run_target(_config(catalog_props, catalog_namespace, tmp_path, branch="acme"), more, tmp_path)

    table = _table(catalog_props, f"{catalog_namespace}.people")
    assert len(table.scan().to_arrow()) == 3
    branch_head = table.snapshot_by_name("acme")
    assert branch_head is not None
    assert sorted(table.scan(snapshot_id=branch_head.snapshot_id).to_arrow().column("id").to_pylist()) == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert branch_head.summary["dativo.singer-state"] == '{"p": 2}'
