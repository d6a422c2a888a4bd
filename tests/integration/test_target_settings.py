"""Every setting target-iceberg's `--about` advertises works, or is refused at start-up with one
line: the real `target-iceberg` process on Singer messages, the table read back with pyiceberg."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from target_iceberg.catalog import open_catalog

from tests.helpers.singer import TARGET, emitted_states, records, run_target, schema, state

pytestmark = pytest.mark.integration

NESTED_PROPS = {
    "id": {"type": "integer"},
    "obj": {
        "type": ["object", "null"],
        "properties": {
            "a": {"type": ["integer", "null"]},
            "deep": {"type": ["object", "null"], "properties": {"c": {"type": ["string", "null"]}}},
        },
    },
    "tags": {"type": ["array", "null"], "items": {"type": "string"}},
}
NESTED_ROWS = [
    {"id": 1, "obj": {"a": 7, "deep": {"c": "x"}}, "tags": ["p", "q"]},
    {"id": 2, "obj": {"a": None, "deep": None}, "tags": []},
]
COMPACT = pytest.mark.parametrize("compact", [False, True], ids=["per-record", "bulk-lines"])


def _config(tmp: Path, **extra: Any) -> dict[str, Any]:
    return {"warehouse_dir": str(tmp / "wh"), "namespace": "t", "dead_letter_dir": str(tmp / "dead"), **extra}


def _rows(tmp: Path, table: str = "items") -> list[dict[str, Any]]:
    loaded = open_catalog(_config(tmp)).load_table(f"t.{table}")
    return sorted(loaded.scan().to_arrow().to_pylist(), key=lambda r: r["id"])


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    return result.stderr.strip().splitlines()[-1]


# 1. flattening


@COMPACT
def test_flattening_off_keeps_nested_values_as_json_text(tmp_path: Path, compact: bool) -> None:
    messages = [schema("items", NESTED_PROPS, ["id"]), *records("items", NESTED_ROWS), state({"s": 1})]
    run_target(_config(tmp_path, flattening_enabled=False), messages, tmp_path, compact=compact)
    rows = _rows(tmp_path)
    assert [json.loads(r["obj"]) for r in rows] == [{"a": 7, "deep": {"c": "x"}}, {"a": None, "deep": None}]
    assert [json.loads(r["tags"]) for r in rows] == [["p", "q"], []]


@COMPACT
def test_flattening_on_expands_records_like_the_schema(tmp_path: Path, compact: bool) -> None:
    messages = [schema("items", NESTED_PROPS, ["id"]), *records("items", NESTED_ROWS), state({"s": 1})]
    config = _config(tmp_path, flattening_enabled=True, flattening_max_depth=1)
    result = run_target(config, messages, tmp_path, compact=compact)
    rows = _rows(tmp_path)
    assert set(rows[0]) == {"id", "obj__a", "obj__deep", "tags"}
    assert [r["obj__a"] for r in rows] == [7, None]
    assert json.loads(rows[0]["obj__deep"]) == {"c": "x"}
    assert rows[1]["obj__deep"] is None
    assert [json.loads(r["tags"]) for r in rows] == [["p", "q"], []]
    assert not (tmp_path / "dead").exists()
    assert emitted_states(result) == [{"s": 1}]


@COMPACT
def test_flattening_with_stream_maps_and_a_separator(tmp_path: Path, compact: bool) -> None:
    messages = [schema("items", NESTED_PROPS, ["id"]), *records("items", NESTED_ROWS), state({"s": 1})]
    config = _config(
        tmp_path,
        flattening_enabled=True,
        flattening_max_depth=3,
        flattening_separator="_x_",
        stream_maps={"items": {"id_times_ten": "int(id * 10)", "tags": "__NULL__"}},
    )
    run_target(config, messages, tmp_path, compact=compact)
    rows = _rows(tmp_path)
    assert rows == [
        {"id": 1, "obj_x_a": 7, "obj_x_deep_x_c": "x", "id_times_ten": 10},
        {"id": 2, "obj_x_a": None, "obj_x_deep_x_c": None, "id_times_ten": 20},
    ]


@pytest.mark.parametrize("file_format", ["parquet", "jsonl"])
def test_batch_files_go_through_flattening_and_metadata(tmp_path: Path, file_format: str) -> None:
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    if file_format == "parquet":
        path = tmp_path / "part-0.parquet"
        pq.write_table(pa.Table.from_pylist(NESTED_ROWS), path)
        encoding = {"format": "parquet", "compression": None}
    else:
        path = tmp_path / "part-0.jsonl.gz"
        with gzip.open(path, "wt") as handle:
            handle.writelines(json.dumps(r) + "\n" for r in NESTED_ROWS)
        encoding = {"format": "jsonl", "compression": "gzip"}
    messages = [
        schema("items", NESTED_PROPS, ["id"]),
        {"type": "BATCH", "stream": "items", "encoding": encoding, "manifest": [path.as_uri()]},
        state({"s": 1}),
    ]
    config = _config(tmp_path, flattening_enabled=True, flattening_max_depth=2, add_record_metadata=True)
    run_target(config, messages, tmp_path)
    rows = _rows(tmp_path)
    assert [(r["id"], r["obj__a"], r["obj__deep__c"]) for r in rows] == [(1, 7, "x"), (2, None, None)]
    assert all(r["_sdc_received_at"] is not None for r in rows)


@COMPACT
def test_the_sdk_record_path_dead_letters_a_bad_timestamp_like_the_fast_path(
    tmp_path: Path, compact: bool
) -> None:
    props = {"id": {"type": "integer"}, "at": {"type": ["string", "null"], "format": "date-time"}}
    rows = [{"id": 1, "at": "2024-01-02T03:04:05Z"}, {"id": 2, "at": "not a time"}]
    messages = [schema("items", props, ["id"]), *records("items", rows), state({"s": 1})]
    result = run_target(_config(tmp_path, add_record_metadata=True), messages, tmp_path, compact=compact)
    assert [(r["id"], r["at"]) for r in _rows(tmp_path)] == [
        (1, dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc))
    ]
    assert _last_line(result).endswith(
        f"1 record(s) rejected across 1 stream(s); dead letters in {tmp_path / 'dead'}"
    )


# 2. add_record_metadata


@COMPACT
def test_add_record_metadata_fills_the_sdc_columns(tmp_path: Path, compact: bool) -> None:
    extracted = "2024-05-06T07:08:09+00:00"
    messages: list[dict[str, Any]] = [schema("items", {"id": {"type": "integer"}}, ["id"])]
    messages += [
        {"type": "RECORD", "stream": "items", "record": {"id": i}, "time_extracted": extracted, "version": 42}
        for i in (1, 2)
    ]
    messages.append(state({"s": 1}))
    before = dt.datetime.now(dt.timezone.utc)
    run_target(_config(tmp_path, add_record_metadata=True), messages, tmp_path, compact=compact)
    after = dt.datetime.now(dt.timezone.utc)
    rows = _rows(tmp_path)
    assert [r["id"] for r in rows] == [1, 2]
    for row in rows:
        assert row["_sdc_extracted_at"] == dt.datetime.fromisoformat(extracted)
        assert before <= row["_sdc_received_at"] <= after
        assert before <= row["_sdc_batched_at"] <= after
        assert before.timestamp() * 1000 - 1 <= row["_sdc_sequence"] <= after.timestamp() * 1000 + 1
        assert row["_sdc_table_version"] == 42
        assert row["_sdc_deleted_at"] is None
        assert row["_sdc_sync_started_at"] is not None


def test_add_record_metadata_survives_a_schema_change(tmp_path: Path) -> None:
    messages = [
        schema("items", {"id": {"type": "integer"}}, ["id"]),
        {"type": "RECORD", "stream": "items", "record": {"id": 1}, "version": 1},
        schema("items", {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}}, ["id"]),
        {"type": "RECORD", "stream": "items", "record": {"id": 2, "name": "b"}, "version": 2},
        state({"s": 1}),
    ]
    run_target(_config(tmp_path, add_record_metadata=True), messages, tmp_path)
    assert [(r["id"], r["_sdc_table_version"]) for r in _rows(tmp_path)] == [(1, 1), (2, 2)]


# 3. load_method


def _load_twice(tmp: Path, **settings: Any) -> list[dict[str, Any]]:
    for email in ("first", "second"):
        rows = [{"id": 1, "email": email}, {"id": 2, "email": email}]
        messages = [
            schema("items", {"id": {"type": "integer"}, "email": {"type": ["string", "null"]}}, ["id"]),
            *records("items", rows),
            state({"s": email}),
        ]
        run_target(_config(tmp, **settings), messages, tmp)
    return _rows(tmp)


def test_load_method_upsert_merges_on_the_keys(tmp_path: Path) -> None:
    assert _load_twice(tmp_path, load_method="upsert") == [
        {"id": 1, "email": "second"},
        {"id": 2, "email": "second"},
    ]


def test_load_method_append_only_appends(tmp_path: Path) -> None:
    rows = _load_twice(tmp_path, load_method="append-only")
    assert sorted((r["id"], r["email"]) for r in rows) == [
        (1, "first"),
        (1, "second"),
        (2, "first"),
        (2, "second"),
    ]


def test_load_method_overwrite_replaces(tmp_path: Path) -> None:
    rows = _load_twice(tmp_path, load_method="overwrite")
    assert rows == [{"id": 1, "email": "second"}, {"id": 2, "email": "second"}]


def test_load_method_and_write_mode_that_agree_are_fine(tmp_path: Path) -> None:
    rows = _load_twice(tmp_path, load_method="upsert", write_mode="merge")
    assert [r["email"] for r in rows] == ["second", "second"]


def _refused(tmp: Path, config: dict[str, Any], messages: list[dict[str, Any]] | None = None) -> str:
    messages = messages or [
        schema("items", {"id": {"type": "integer"}}, ["id"]),
        *records("items", [{"id": 1}]),
    ]
    result = run_target(config, messages, tmp, check=False)
    assert result.returncode == 2, result.stderr
    assert not (tmp / "wh" / "catalog.db").exists() or not open_catalog(config).table_exists("t.items")
    errors = [line for line in result.stderr.splitlines() if line.startswith("target-iceberg: error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return errors[0]


def test_load_method_disagreeing_with_write_mode_is_refused(tmp_path: Path) -> None:
    line = _refused(tmp_path, _config(tmp_path, load_method="upsert", write_mode="append"))
    assert line == (
        "target-iceberg: error: settings 'load_method' (upsert) and 'write_mode' (append) disagree: "
        "upsert means write_mode merge; set one of them"
    )


def test_upsert_of_a_stream_without_key_properties_is_refused(tmp_path: Path) -> None:
    messages = [schema("items", {"id": {"type": "integer"}}), *records("items", [{"id": 1}])]
    line = _refused(tmp_path, _config(tmp_path, load_method="upsert"), messages)
    assert line == (
        "target-iceberg: error: stream 'items' has no key properties: load_method 'upsert' "
        "(write_mode merge) needs them"
    )


# 4. fail_on_rejects and the final line


def _with_a_reject() -> list[dict[str, Any]]:
    props = {"id": {"type": "integer"}, "n": {"type": ["integer", "null"]}}
    rows = [{"id": 1, "n": 1}, {"id": 2, "n": "not a number"}, {"id": 3, "n": 3}]
    return [schema("items", props, ["id"]), *records("items", rows), state({"s": 1})]


def test_rejects_are_counted_in_the_final_line_and_exit_0_by_default(tmp_path: Path) -> None:
    result = run_target(_config(tmp_path, schema_mode="strict"), _with_a_reject(), tmp_path)
    assert [r["id"] for r in _rows(tmp_path)] == [1, 3]
    assert _last_line(result).endswith(
        f"1 record(s) rejected across 1 stream(s); dead letters in {tmp_path / 'dead'}"
    )


def test_fail_on_rejects_commits_the_good_rows_then_exits_1(tmp_path: Path) -> None:
    config = _config(tmp_path, schema_mode="strict", fail_on_rejects=True)
    result = run_target(config, _with_a_reject(), tmp_path, check=False)
    assert result.returncode == 1, result.stderr
    assert [r["id"] for r in _rows(tmp_path)] == [1, 3]
    assert emitted_states(result) == [{"s": 1}]
    assert _last_line(result).endswith(
        f"1 record(s) rejected across 1 stream(s); dead letters in {tmp_path / 'dead'}; "
        "exiting 1 (fail_on_rejects): the other rows are committed"
    )


def test_fail_on_rejects_without_rejects_exits_0(tmp_path: Path) -> None:
    messages = [
        schema("items", {"id": {"type": "integer"}}, ["id"]),
        *records("items", [{"id": 1}]),
        state({}),
    ]
    result = run_target(_config(tmp_path, fail_on_rejects=True), messages, tmp_path)
    assert _last_line(result).endswith(f"0 record(s) rejected; dead letters would go to {tmp_path / 'dead'}")


# 5. --about


def _about() -> dict[str, Any]:
    out = subprocess.run([*TARGET, "--about", "--format", "json"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_about_lists_what_the_target_supports() -> None:
    about = _about()
    assert sorted(about["capabilities"]) == sorted(
        ["about", "activate-version", "batch", "schema-flattening", "stream-maps", "structured-logging"]
    )
    settings = about["settings"]["properties"]
    assert settings["catalog"].get("secret") is True
    assert settings["hash_salt"].get("secret") is True
    assert [name for name, spec in settings.items() if not spec.get("description")] == []
    assert "fail_on_rejects" in settings
    assert "validate_records" not in settings


def test_process_activate_version_messages_false_ignores_them(tmp_path: Path) -> None:
    def run(rows: list[dict[str, Any]], **settings: Any) -> None:
        messages = [
            schema("items", {"id": {"type": "integer"}}, ["id"]),
            {"type": "ACTIVATE_VERSION", "stream": "items", "version": 1},
            *records("items", rows),
            state({"s": 1}),
        ]
        run_target(_config(tmp_path, write_mode="append", **settings), messages, tmp_path)

    run([{"id": 1}])
    run([{"id": 2}], process_activate_version_messages=False)
    assert [r["id"] for r in _rows(tmp_path)] == [1, 2]
    run([{"id": 3}])
    assert [r["id"] for r in _rows(tmp_path)] == [3]


# 7. settings the target cannot honour


def test_validate_records_false_is_refused(tmp_path: Path) -> None:
    line = _refused(tmp_path, _config(tmp_path, validate_records=False))
    assert line.startswith("target-iceberg: error: setting 'validate_records' is not supported: ")


def test_validate_records_true_is_what_the_target_does(tmp_path: Path) -> None:
    messages = [
        schema("items", {"id": {"type": "integer"}}, ["id"]),
        *records("items", [{"id": 1}]),
        state({}),
    ]
    run_target(_config(tmp_path, validate_records=True), messages, tmp_path)
    assert _rows(tmp_path) == [{"id": 1}]


@pytest.mark.parametrize("setting", ["hard_delete", "default_target_schema", "max_record_age"])
def test_sql_target_settings_are_refused(tmp_path: Path, setting: str) -> None:
    line = _refused(tmp_path, _config(tmp_path, **{setting: True}))
    assert line.startswith(f"target-iceberg: error: setting '{setting}' is not supported: ")


def test_batch_size_rows_commits_at_each_due_state(tmp_path: Path) -> None:
    messages = [schema("items", {"id": {"type": "integer"}}, ["id"])]
    for start in (0, 10, 20):
        messages += [*records("items", [{"id": i} for i in range(start, start + 10)]), state({"upto": start})]
    result = run_target(_config(tmp_path, batch_size_rows=10), messages, tmp_path)
    assert [s["upto"] for s in emitted_states(result)] == [0, 10, 20]
    assert len(open_catalog(_config(tmp_path)).load_table("t.items").snapshots()) == 3


def test_the_sdk_record_path_keeps_the_byte_threshold(tmp_path: Path) -> None:
    messages = [schema("items", NESTED_PROPS, ["id"])]
    for start in range(0, 300, 100):
        rows = [{"id": i, "obj": {"a": i, "deep": {"c": "x" * 20}}} for i in range(start, start + 100)]
        messages += [*records("items", rows), state({"upto": start + 100})]
    config = _config(
        tmp_path,
        flattening_enabled=True,
        flattening_max_depth=2,
        batch_size_rows=1_000_000,
        batch_size_bytes=8000,  # ~11.5 KB per 100 rows: due at each STATE, under the 2x hard limit
    )
    result = run_target(config, messages, tmp_path)
    assert [s["upto"] for s in emitted_states(result)] == [100, 200, 300]
    assert len(_rows(tmp_path)) == 300
