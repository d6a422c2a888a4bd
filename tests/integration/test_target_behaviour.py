"""target-iceberg semantics on the embedded catalog: strict/relaxed schemas, dead-letter, policies,
nested data, ACTIVATE_VERSION, STATE after commit, concurrent writers."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from target_iceberg.catalog import open_catalog

from dativo_singer.exact_json import exact_json
from tests.helpers import duckdb_reader
from tests.helpers.singer import TARGET, emitted_states, encode, records, run_target, schema, state

pytestmark = pytest.mark.integration

PROPS = {
    "id": {"type": "integer"},
    "email": {"type": ["string", "null"]},
    "amount": {"type": ["number", "null"], "multipleOf": 0.01, "maximum": 999.99},
}


def _config(tmp: Path, **extra: Any) -> dict[str, Any]:
    return {"warehouse_dir": str(tmp / "wh"), "namespace": "t", "dead_letter_dir": str(tmp / "dead"), **extra}


def _rows(tmp: Path, table: str = "items") -> list[dict[str, Any]]:
    loaded = open_catalog(_config(tmp)).load_table(f"t.{table}")
    return sorted(loaded.scan().to_arrow().to_pylist(), key=lambda r: r["id"])


def _dead_letters(tmp: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for p in sorted((tmp / "dead").rglob("*.jsonl"))
        for line in p.read_text().splitlines()
    ]


@pytest.mark.parametrize("compact", [False, True], ids=["per-record", "bulk-lines"])
def test_strict_mode_dead_letters_records_off_the_schema(tmp_path: Path, compact: bool) -> None:
    rows = [
        {"id": 1, "email": "a@x.io", "amount": 1.5},
        {"id": 2, "email": "b@x.io", "amount": "lots"},
        {"id": 3, "email": "c@x.io", "amount": 2, "surprise": True},
        {"id": 4, "amount": 12345.67},
        {"id": 5, "email": None, "amount": None},
    ]
    messages = [schema("items", PROPS, ["id"]), *records("items", rows), state({"s": 1})]
    result = run_target(_config(tmp_path, schema_mode="strict"), messages, tmp_path, compact=compact)

    assert [r["id"] for r in _rows(tmp_path)] == [1, 5]
    reasons = {d["record"]["id"]: d["reason"] for d in _dead_letters(tmp_path)}
    assert reasons == {
        2: "field 'amount': 'lots' is not a valid decimal128(5, 2)",
        3: "field(s) not in the schema: surprise",
        4: "field 'amount': 12345.67 is not a valid decimal128(5, 2)",
    }
    assert '"dead_letter_rows": 3' in result.stderr
    assert emitted_states(result) == [{"s": 1}]


def test_relaxed_mode_evolves_and_widens_but_never_drops(tmp_path: Path) -> None:
    config = _config(tmp_path)
    run_target(
        config,
        [schema("items", PROPS, ["id"]), *records("items", [{"id": 1, "amount": 1.5}]), state({"s": 1})],
        tmp_path,
    )
    wider = {
        **PROPS,
        "amount": {"type": ["number", "null"], "multipleOf": 0.01, "maximum": 99999999.99},
        "note": {"type": ["string", "null"]},
    }
    narrower = {"id": {"type": "integer"}, "email": {"type": ["integer", "null"]}}
    messages = [
        schema("items", wider, ["id"]),
        *records("items", [{"id": 2, "amount": 1234567.5, "note": "big"}]),
        schema("items", narrower, ["id"]),
        *records("items", [{"id": 3, "email": 42}]),
        state({"s": 2}),
    ]
    run_target(config, messages, tmp_path)

    table = open_catalog(config).load_table("t.items")
    types = {f.name: str(f.field_type) for f in table.schema().fields}
    assert types == {"id": "long", "email": "string", "amount": "decimal(10, 2)", "note": "string"}
    rows = _rows(tmp_path)
    assert [(r["id"], r["email"], r["note"]) for r in rows] == [
        (1, None, None),
        (2, None, "big"),
        (3, "42", None),
    ]
    assert str(rows[1]["amount"]) == "1234567.50"


@pytest.mark.parametrize("compact", [False, True], ids=["per-record", "bulk-lines"])
def test_relaxed_mode_keeps_undeclared_fields_as_new_columns(tmp_path: Path, compact: bool) -> None:
    config = _config(tmp_path)
    later = {"id": {"type": "integer"}, "amount": PROPS["amount"]}  # a later SCHEMA drops email
    messages = [
        schema("items", PROPS, ["id"]),
        *records("items", [{"id": 1, "email": "a@x.io", "tag": "vip", "extra": {"n": 1}}]),
        schema("items", later, ["id"]),
        *records("items", [{"id": 2, "email": "b@x.io", "amount": 2.5}]),
        state({"s": 1}),
    ]
    result = run_target(config, messages, tmp_path, compact=compact)
    assert result.returncode == 0, result.stderr
    assert _dead_letters(tmp_path) == []
    rows = _rows(tmp_path)
    # Undeclared fields land typed from their values (objects as JSON text), never dropped.
    assert [(r["id"], r["email"], r["tag"], r["extra"]) for r in rows] == [
        (1, "a@x.io", "vip", '{"n":1}'),
        (2, "b@x.io", None, None),
    ]
    assert str(rows[1]["amount"]) == "2.50"


def test_policies_hash_mask_and_drop_before_writing(tmp_path: Path) -> None:
    props = {**PROPS, "ssn": {"type": ["string", "null"]}, "card": {"type": ["string", "null"]}}
    config = _config(
        tmp_path,
        column_policies={"email": "hash", "ssn": "drop", "card": "mask"},
        hash_salt="pepper",
        column_docs={"email": "classification: PII; policy: hash"},
    )
    row = {"id": 1, "email": "a@x.io", "ssn": "123-45-6789", "card": "4111111111111111", "amount": 1}
    run_target(config, [schema("items", props, ["id"]), *records("items", [row]), state({"s": 1})], tmp_path)

    table = open_catalog(config).load_table("t.items")
    assert "ssn" not in table.schema().column_names
    assert table.schema().find_field("email").doc == "classification: PII; policy: hash"
    [stored] = _rows(tmp_path)
    assert stored["email"] == hashlib.sha256(b"pepper" + b"a@x.io").hexdigest()
    assert stored["card"] == "****"
    raw = b"".join(p.read_bytes() for p in (tmp_path / "wh").rglob("*.parquet"))
    assert b"123-45-6789" not in raw and b"a@x.io" not in raw and b"4111111111111111" not in raw


def test_nested_as_structs_and_lists(tmp_path: Path) -> None:
    props = {
        "id": {"type": "integer"},
        "address": {
            "type": ["object", "null"],
            "properties": {"city": {"type": "string"}, "zip": {"type": "integer"}},
        },
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
    }
    config = _config(tmp_path, nested="struct")
    row = {"id": 1, "address": {"city": "Oslo", "zip": 150}, "tags": ["a", "b"]}
    run_target(config, [schema("items", props, ["id"]), *records("items", [row]), state({"s": 1})], tmp_path)
    table = open_catalog(config).load_table("t.items")
    assert str(table.schema().find_field("address").field_type).startswith("struct<")
    assert str(table.schema().find_field("tags").field_type) == "list<string>"
    assert _rows(tmp_path) == [{"id": 1, "address": {"city": "Oslo", "zip": 150}, "tags": ["a", "b"]}]


def test_activate_version_replaces_the_table(tmp_path: Path) -> None:
    config = _config(tmp_path)
    run_target(
        config,
        [schema("items", PROPS, ["id"]), *records("items", [{"id": 1}, {"id": 2}]), state({"s": 1})],
        tmp_path,
    )
    messages = [
        schema("items", PROPS, ["id"]),
        {"type": "ACTIVATE_VERSION", "stream": "items", "version": 2},
        *records("items", [{"id": 7}]),
        {"type": "ACTIVATE_VERSION", "stream": "items", "version": 2},
        state({"s": 2}),
    ]
    run_target(config, messages, tmp_path)
    assert [r["id"] for r in _rows(tmp_path)] == [7]


def test_a_replace_is_written_as_it_is_read_into_one_data_file(tmp_path: Path) -> None:
    """A full replace hands its rows on to the data file being filled every 100,000 rows (so
    the end of input leaves little to write), in one data file: the old rows stay readable until
    the end, no STATE comes out before, the replace lands whole."""
    config = _config(tmp_path)
    run_target(
        config, [schema("items", PROPS, ["id"]), *records("items", [{"id": -1}]), state({"s": 0})], tmp_path
    )
    messages: list[dict[str, Any]] = [
        schema("items", PROPS, ["id"]),
        {"type": "ACTIVATE_VERSION", "stream": "items", "version": 2},
    ]
    for start in range(0, 250_000, 10_000):  # a STATE every 10,000 rows, as a tap sends them
        messages += [
            *records("items", [{"id": i} for i in range(start, start + 10_000)]),
            state({"upto": start}),
        ]
    result = run_target(config, messages, tmp_path)
    assert emitted_states(result) == [{"upto": 240_000}]
    staged = [line for line in result.stderr.splitlines() if "Staged" in line]
    assert [line.split("Staged ")[1].split()[0] for line in staged] == ["100000", "100000", "50000"]
    table = open_catalog(config).load_table("t.items")
    files = list(table.scan().plan_files())
    assert [f.file.record_count for f in files] == [250_000]
    ids = table.scan(selected_fields=("id",)).to_arrow().column("id").to_pylist()
    assert sorted(ids) == list(range(250_000))


def test_state_is_emitted_only_after_the_commit_that_covers_it(tmp_path: Path) -> None:
    config = _config(tmp_path, batch_size_rows=3)
    messages = [schema("items", PROPS, ["id"])]
    for i in range(1, 8):
        messages += [*records("items", [{"id": i}]), state({"upto": i})]
    result = run_target(config, messages, tmp_path)
    states = emitted_states(result)
    table = open_catalog(config).load_table("t.items")
    committed = [json.loads(s.summary["dativo.singer-state"]) for s in table.snapshots()]
    assert states == committed  # every STATE printed is the bookmark of a commit, in order
    assert states[-1] == {"upto": 7}
    assert [s["upto"] for s in states] == [3, 6, 7]


def _run_writers_at_once(
    config: dict[str, Any], writers: list[list[dict[str, Any]]], tmp: Path, every: int
) -> int:
    """One target process per row list, each committing every ``every`` rows; input is fed only
    once every process has started, so their commits really overlap. Returns how many commits
    lost a race and were redone."""
    inputs = []
    for writer, rows in enumerate(writers):
        messages = [schema("items", PROPS, ["id"])]
        for start in range(0, len(rows), every):
            messages += [*records("items", rows[start : start + every]), state({"w": writer, "n": start})]
        inputs.append(encode(messages, compact=True))
    (tmp / "writer.json").write_text(json.dumps(config))
    procs = [
        subprocess.Popen(
            [*TARGET, "--config", str(tmp / "writer.json")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in writers
    ]
    for proc in procs:
        assert proc.stderr is not None
        proc.stderr.readline()  # the start-up line: imports are done
    with ThreadPoolExecutor(max_workers=len(procs)) as pool:
        outputs = list(
            pool.map(lambda pair: pair[0].communicate(pair[1], timeout=300), zip(procs, inputs, strict=True))
        )
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, "\n".join(err.splitlines()[-25:])
    # The writers must have overlapped: their commits interleave, or some lost a race and were
    # redone. Otherwise this did not test concurrency.
    lost_races = sum(err.count("lost a concurrent update") for _, err in outputs)
    table = open_catalog(config).load_table(f"{config['namespace']}.items")
    states = [s.summary.get("dativo.singer-state") for s in table.snapshots() if s.summary]
    order = [w for w in (json.loads(v).get("w") for v in states if v) if w is not None]
    switches = sum(1 for a, b in itertools.pairwise(order) if a != b)
    assert switches >= 2 or lost_races > 0, f"writers did not overlap: {order}"
    return lost_races


def _postgres_config(pg_service: Any, tmp: Path, **extra: Any) -> dict[str, Any]:
    """A catalog on PostgreSQL: commits of separate processes really run at the same time
    (SQLite serializes writers on its file lock)."""
    (tmp / "pgwh").mkdir(exist_ok=True)
    catalog = {"type": "sql", "uri": pg_service.sqlalchemy_uri, "warehouse": (tmp / "pgwh").as_uri()}
    namespace = f"concurrency_{uuid.uuid4().hex[:8]}"
    return {"catalog": catalog, "namespace": namespace, "dead_letter_dir": str(tmp / "dead"), **extra}


def _all_rows(config: dict[str, Any]) -> list[dict[str, Any]]:
    table = open_catalog(config).load_table(f"{config['namespace']}.items")
    return sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])


def test_two_writers_on_one_table_both_land(tmp_path: Path, pg_service: Any) -> None:
    # Writers that deliberately share one table and stream: no compare-and-swap on the bookmark
    # (test_exactly_once.py: two runs of one job, where it decides who commits).
    config = _postgres_config(pg_service, tmp_path, batch_size_rows=20, bookmark_check=False)
    seed = [schema("items", PROPS, ["id"]), *records("items", [{"id": 0}]), state({"s": 0})]
    run_target(config, seed, tmp_path)
    writers = [[{"id": writer * 10_000 + i} for i in range(1, 2001)] for writer in range(2)]
    _run_writers_at_once(config, writers, tmp_path, every=20)
    ids = [r["id"] for r in _all_rows(config)]
    assert len(ids) == 4001 and len(set(ids)) == 4001


def test_ingest_date_partition_is_derived(tmp_path: Path) -> None:
    config = _config(tmp_path, partitioning=["ingest_date"])
    run_target(
        config,
        [schema("items", PROPS, ["id"]), *records("items", [{"id": 1}, {"id": 2}]), state({"s": 1})],
        tmp_path,
    )
    table = open_catalog(config).load_table("t.items")
    [partition] = table.inspect.partitions().to_pylist()
    assert partition["record_count"] == 2
    assert partition["partition"]["ingest_date"] is not None


@pytest.mark.parametrize("file_format", ["parquet", "jsonl"])
def test_batch_messages_with_parquet_and_jsonl_files(tmp_path: Path, file_format: str) -> None:
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": i, "email": f"{i}@x.io", "amount": i + 0.25} for i in range(1, 4)]
    if file_format == "parquet":
        path = tmp_path / "part-0.parquet"
        pq.write_table(pa.Table.from_pylist(rows), path)
        encoding = {"format": "parquet", "compression": None}
    else:
        path = tmp_path / "part-0.jsonl.gz"
        with gzip.open(path, "wt") as handle:
            handle.writelines(json.dumps(r) + "\n" for r in rows)
        encoding = {"format": "jsonl", "compression": "gzip"}
    messages = [
        schema("items", PROPS, ["id"]),
        *records("items", [{"id": 9, "amount": 1}]),
        {"type": "BATCH", "stream": "items", "encoding": encoding, "manifest": [path.as_uri()]},
        state({"s": 1}),
    ]
    result = run_target(_config(tmp_path), messages, tmp_path)
    assert [(r["id"], str(r["amount"])) for r in _rows(tmp_path)] == [
        (1, "1.25"),
        (2, "2.25"),
        (3, "3.25"),
        (9, "1.00"),
    ]
    assert emitted_states(result) == [{"s": 1}]


def test_merge_rewrites_only_files_holding_changed_keys(tmp_path: Path) -> None:
    config = _config(tmp_path, write_mode="merge", partitioning=["bucket(4, id)"])
    for start in (1, 101, 201):  # three commits: files per bucket and id range
        rows = [{"id": i, "email": f"v1-{i}"} for i in range(start, start + 100)]
        run_target(
            config, [schema("items", PROPS, ["id"]), *records("items", rows), state({"s": start})], tmp_path
        )
    table = open_catalog(config).load_table("t.items")
    files_before = {task.file.file_path for task in table.scan().plan_files()}

    changed = [{"id": i, "email": f"v2-{i}"} for i in (5, 150, 150, 300, 301)]  # 150 twice, 301 is new
    run_target(
        config, [schema("items", PROPS, ["id"]), *records("items", changed), state({"s": 9})], tmp_path
    )

    table = open_catalog(config).load_table("t.items")
    rows = {r["id"]: r["email"] for r in table.scan().to_arrow().to_pylist()}
    assert len(rows) == 301
    assert {i: rows[i] for i in (4, 5, 150, 300, 301)} == {
        4: "v1-4",
        5: "v2-5",
        150: "v2-150",
        300: "v2-300",
        301: "v2-301",
    }
    files_after = {task.file.file_path for task in table.scan().plan_files()}
    kept = files_before & files_after
    assert kept, "files without a changed key must not be rewritten"
    assert len(files_before - files_after) <= 4  # at most one file per bucket holding 5, 150, 300
    assert table.current_snapshot().summary["dativo.singer-state"] == '{"s": 9}'


def test_merge_on_a_branch(tmp_path: Path) -> None:
    base = _config(tmp_path)
    run_target(
        base,
        [
            schema("items", PROPS, ["id"]),
            *records("items", [{"id": 1, "email": "a"}, {"id": 2, "email": "b"}]),
            state({"s": 1}),
        ],
        tmp_path,
    )
    config = _config(tmp_path, write_mode="merge", branch="dev")
    run_target(
        config,
        [
            schema("items", PROPS, ["id"]),
            *records("items", [{"id": 2, "email": "B"}, {"id": 3, "email": "c"}]),
            state({"s": 2}),
        ],
        tmp_path,
    )
    table = open_catalog(config).load_table("t.items")
    on_branch = table.scan(snapshot_id=table.snapshot_by_name("dev").snapshot_id).to_arrow().to_pylist()
    assert sorted((r["id"], r["email"]) for r in on_branch) == [(1, "a"), (2, "B"), (3, "c")]
    assert sorted((r["id"], r["email"]) for r in table.scan().to_arrow().to_pylist()) == [(1, "a"), (2, "b")]


def test_two_merging_writers_on_one_table_both_land(tmp_path: Path, pg_service: Any) -> None:
    config = _postgres_config(
        pg_service, tmp_path, write_mode="merge", batch_size_rows=100, bookmark_check=False
    )
    seed = [{"id": i, "email": "seed"} for i in range(1, 4001)]
    run_target(config, [schema("items", PROPS, ["id"]), *records("items", seed), state({"s": 0})], tmp_path)
    # Both writers change interleaved keys of the same files, in many commits each.
    writers = [[{"id": i, "email": f"w{writer}"} for i in range(1 + writer, 4001, 2)] for writer in range(2)]
    lost_races = _run_writers_at_once(config, writers, tmp_path, every=100)
    emails = {r["id"]: r["email"] for r in _all_rows(config)}
    assert len(emails) == 4000
    assert all(emails[i] == ("w0" if i % 2 else "w1") for i in emails)
    print(f"merging writers: {lost_races} commit(s) lost a race and were redone")


@pytest.mark.parametrize(
    "thresholds",
    # 100 rows are ~7 KB of messages: due at 5 KB, below the 2x hard limit. Age: due at once.
    [{"batch_size_bytes": 5000}, {"batch_seconds": 0.000001}],
    ids=["bytes", "seconds"],
)
def test_byte_and_age_thresholds_commit_at_each_due_state(tmp_path: Path, thresholds: dict[str, Any]) -> None:
    config = _config(tmp_path, batch_size_rows=1_000_000, **thresholds)
    messages = [schema("items", PROPS, ["id"])]
    for start in range(0, 300, 100):
        rows = [{"id": i, "email": "x" * 20} for i in range(start, start + 100)]  # ~5 KB per 100 rows
        messages += [*records("items", rows), state({"upto": start + 100})]
    result = run_target(config, messages, tmp_path)
    assert [s["upto"] for s in emitted_states(result)] == [100, 200, 300]
    table = open_catalog(config).load_table("t.items")
    assert len(table.snapshots()) == 3


def test_without_a_due_threshold_everything_is_one_commit_at_the_end(tmp_path: Path) -> None:
    config = _config(tmp_path, batch_size_rows=1_000_000)
    messages = [schema("items", PROPS, ["id"])]
    for start in range(0, 300, 100):
        messages += [
            *records("items", [{"id": i} for i in range(start, start + 100)]),
            state({"upto": start + 100}),
        ]
    result = run_target(config, messages, tmp_path)
    assert emitted_states(result) == [{"upto": 300}]
    assert len(open_catalog(config).load_table("t.items").snapshots()) == 1


# --- Values the target must not lose or alter, read back with pyiceberg ---------------------


def _run_exact(config: dict[str, Any], messages: list[dict[str, Any]], tmp: Path, compact: bool) -> str:
    """Like ``run_target``, with numbers encoded exactly (Decimals as their digits, integers of
    any size): compact lines take the bulk Arrow path, spaced RECORD lines are decoded one by one."""
    lines = []
    for message in messages:
        line = exact_json(message)
        if not compact:
            line = line.replace(b'{"type":"RECORD"', b'{"type": "RECORD"', 1)
        lines.append(line)
    config_path = tmp / f"exact-{len(list(tmp.glob('exact-*.json')))}.json"
    config_path.write_text(json.dumps(config))
    result = subprocess.run(
        [*TARGET, "--config", str(config_path)],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return result.stderr.decode()


def _exact_dead_letters(tmp: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line, parse_float=Decimal)
        for p in sorted((tmp / "dead").rglob("*.jsonl"))
        for line in p.read_text().splitlines()
    ]


PATHS = pytest.mark.parametrize("compact", [False, True], ids=["per-record", "bulk-lines"])


@PATHS
def test_mixed_untyped_and_object_columns_keep_json_values_apart(tmp_path: Path, compact: bool) -> None:
    props = {
        "id": {"type": "integer"},
        "mixed": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
        "untyped": {},
        "doc": {"type": ["object", "null"]},
    }
    values: list[Any] = ["abc", 5, "5", 2.5, {"a": [1, None]}, True, None, 2**64]
    rows = [{"id": i, "mixed": v, "untyped": v, "doc": {"v": v}} for i, v in enumerate(values)]
    rows.append({"id": 99, "mixed": None, "untyped": None, "doc": '{"already": "json"}'})
    messages = [schema("items", props, ["id"]), *records("items", rows), state({"s": 1})]
    _run_exact(_config(tmp_path, schema_mode="strict"), messages, tmp_path, compact)

    assert _exact_dead_letters(tmp_path) == []
    table = open_catalog(_config(tmp_path)).load_table("t.items")
    assert {f.name: str(f.field_type) for f in table.schema().fields}["mixed"] == "string"
    stored = _rows(tmp_path)
    texts = ['"abc"', "5", '"5"', "2.5", '{"a":[1,null]}', "true", None, "18446744073709551616", None]
    assert [r["mixed"] for r in stored] == texts
    assert [r["untyped"] for r in stored] == texts
    assert [json.loads(r["doc"]) for r in stored] == [{"v": v} for v in values] + [{"already": "json"}]
    assert stored[-1]["doc"] == '{"already": "json"}'  # a string in an object column is kept as is


@PATHS
def test_integers_beyond_int64_land_as_decimals_or_are_dead_lettered_exactly(
    tmp_path: Path, compact: bool
) -> None:
    props = {
        "id": {"type": "integer"},
        "huge": {"type": ["integer", "null"], "minimum": -(2**127), "maximum": 2**127},
        "plain": {"type": ["integer", "null"]},
    }
    rows = [
        {"id": 1, "huge": 2**64 - 1, "plain": 2**63 - 1},
        {"id": 2, "huge": -(2**100), "plain": -(2**63)},
        {"id": 3, "huge": 1, "plain": 2**64},
    ]
    messages = [schema("items", props, ["id"]), *records("items", rows), state({"s": 1})]
    _run_exact(_config(tmp_path), messages, tmp_path, compact)

    table = open_catalog(_config(tmp_path)).load_table("t.items")
    types = {f.name: str(f.field_type) for f in table.schema().fields}
    assert (types["huge"], types["plain"]) == ("decimal(38, 0)", "long")
    assert _rows(tmp_path) == [
        {"id": 1, "huge": Decimal(2**64 - 1), "plain": 2**63 - 1},
        {"id": 2, "huge": Decimal(-(2**100)), "plain": -(2**63)},
    ]
    [dead] = _exact_dead_letters(tmp_path)
    assert dead["reason"] == "field 'plain': 18446744073709551616 is not a valid int64"
    assert dead["record"] == rows[2] and type(dead["record"]["plain"]) is int
    if compact:  # the line as it came, byte for byte
        assert dead["raw"].encode() == exact_json(records("items", [rows[2]])[0])
    else:
        assert "raw" not in dead


@PATHS
def test_long_decimals_land_exactly(tmp_path: Path, compact: bool) -> None:
    props = {
        "id": {"type": "integer"},
        "amount": {"type": ["number", "null"], "multipleOf": 0.000001, "maximum": 99999999999999.999999},
        "ratio": {"type": ["number", "null"]},
    }
    amounts = [Decimal("12345678901234.123456"), Decimal("99999999999999.999999"), Decimal("-0.000001")]
    rows = [{"id": i, "amount": a, "ratio": Decimal("0.1")} for i, a in enumerate(amounts)]
    rows.append({"id": 9, "amount": Decimal("1234567890123456.5"), "ratio": None})  # beyond the precision
    messages = [schema("items", props, ["id"]), *records("items", rows), state({"s": 1})]
    _run_exact(_config(tmp_path), messages, tmp_path, compact)

    stored = _rows(tmp_path)
    assert [r["amount"] for r in stored] == amounts
    assert [r["ratio"] for r in stored] == [0.1, 0.1, 0.1]
    [dead] = _exact_dead_letters(tmp_path)
    assert dead["record"] == rows[3]
    assert '"amount":1234567890123456.5' in (tmp_path / "dead").rglob("*.jsonl").__next__().read_text()


def test_batch_parquet_integers_beyond_int64_are_exact(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    props = {
        "id": {"type": "integer"},
        "huge": {"type": ["integer", "null"], "maximum": 2**64},
        "plain": {"type": ["integer", "null"]},
    }
    path = tmp_path / "part-0.parquet"
    pq.write_table(
        pa.table(
            {
                "id": pa.array([1, 2], pa.int64()),
                "huge": pa.array([2**64 - 1, 2**64 - 1], pa.uint64()),
                "plain": pa.array([7, 2**64 - 1], pa.uint64()),
            }
        ),
        path,
    )
    messages = [
        schema("items", props, ["id"]),
        {"type": "BATCH", "stream": "items", "encoding": {"format": "parquet"}, "manifest": [path.as_uri()]},
        state({"s": 1}),
    ]
    _run_exact(_config(tmp_path), messages, tmp_path, compact=True)
    assert _rows(tmp_path) == [{"id": 1, "huge": Decimal(2**64 - 1), "plain": 7}]
    [dead] = _exact_dead_letters(tmp_path)
    assert dead["record"] == {"id": 2, "huge": 2**64 - 1, "plain": 2**64 - 1}
    assert dead["reason"] == "field 'plain': 18446744073709551615 is not a valid int64"


@PATHS
def test_strict_mode_with_sdc_fields_lands_every_row(tmp_path: Path, compact: bool) -> None:
    sdc = {
        "_sdc_source_file": {"type": ["string", "null"]},
        "_sdc_source_lineno": {"type": ["integer", "null"]},
        "_sdc_source_version": {"type": ["string", "null"]},
    }
    rows = [
        {
            "id": i,
            "email": f"{i}@x.io",
            "_sdc_source_file": "a.csv",
            "_sdc_source_lineno": i + 1,
            "_sdc_source_version": "1-2",
        }
        for i in range(1, 4)
    ]
    messages = [schema("items", {**PROPS, **sdc}, ["id"]), *records("items", rows), state({"s": 1})]
    _run_exact(_config(tmp_path, schema_mode="strict"), messages, tmp_path, compact)
    assert [(r["id"], r["email"]) for r in _rows(tmp_path)] == [(1, "1@x.io"), (2, "2@x.io"), (3, "3@x.io")]
    assert _exact_dead_letters(tmp_path) == []


NESTED_PROPS = {
    "id": {"type": "integer"},
    "tags": {
        "type": ["array", "null"],
        "items": {"type": "object", "properties": {"a": {"type": "integer"}}},
    },
    "nums": {"type": ["array", "null"], "items": {"type": "integer"}},
    "address": {"type": ["object", "null"], "properties": {"city": {"type": ["string", "null"]}}},
}


@PATHS
def test_null_structs_and_arrays_of_scalars_stay_null(tmp_path: Path, compact: bool) -> None:
    rows = [
        {"id": 1, "nums": None, "address": None},
        {"id": 2, "nums": [], "address": {"city": None}},
        {"id": 3, "nums": [1], "address": {"city": "Oslo"}},
    ]
    messages = [schema("items", NESTED_PROPS, ["id"]), *records("items", rows), state({"s": 1})]
    _run_exact(_config(tmp_path, nested="struct"), messages, tmp_path, compact)
    assert [{k: r[k] for k in ("id", "nums", "address")} for r in _rows(tmp_path)] == rows


@PATHS
def test_null_array_of_structs_stays_null(tmp_path: Path, compact: bool) -> None:
    """pyiceberg drops the null mask of list<struct> (apache/iceberg-python#3833); the workaround
    in target_iceberg.pyiceberg_internals puts it back (DuckDB reads the file as null too)."""
    rows = [{"id": 1, "tags": None}, {"id": 2, "tags": []}, {"id": 3, "tags": [{"a": 1}]}]
    messages = [schema("items", NESTED_PROPS, ["id"]), *records("items", rows), state({"s": 1})]
    _run_exact(_config(tmp_path, nested="struct"), messages, tmp_path, compact)
    assert [{k: r[k] for k in ("id", "tags")} for r in _rows(tmp_path)] == rows
    table = open_catalog(_config(tmp_path, nested="struct")).load_table("t.items")
    found = duckdb_reader.scan(table.metadata_location, "SELECT id, tags IS NULL FROM t ORDER BY id")
    assert found == [(1, True), (2, False), (3, False)]
