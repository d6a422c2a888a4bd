"""tap-mysql ``LOG_BASED`` against the real MariaDB (row-based binlog): the snapshot and its
position, then inserts, updates, deletes, key changes and truncates as docs/CDC.md's messages;
a rerun from the last STATE continues exactly; the server checks as one line, exit 2."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.databases import TAPS, batch_config, discover, mariadb_database, unique_name, write_json

pytestmark = pytest.mark.integration


def _catalog(config: dict[str, Any], stream_id: str, tmp: Path) -> dict[str, Any]:
    catalog = discover("mysql", config, tmp)
    (stream,) = [s for s in catalog["streams"] if s["tap_stream_id"] == stream_id]
    for entry in stream["metadata"]:
        entry["metadata"]["selected"] = True
        if entry["breadcrumb"] == []:
            entry["metadata"]["forced-replication-method"] = "LOG_BASED"
    stream["replication_method"] = "LOG_BASED"
    return {"streams": [stream]}


def _run(
    config: dict[str, Any], catalog: dict[str, Any], tmp: Path, state: dict[str, Any] | None = None
) -> tuple[int, list[dict[str, Any]], str]:
    """The tap's exit code, its messages and its stderr."""
    args = [*TAPS["mysql"], "--config", str(write_json(tmp / "c.json", config))]
    args += ["--catalog", str(write_json(tmp / "cat.json", catalog))]
    if state is not None:
        args += ["--state", str(write_json(tmp / "s.json", state))]
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()], result.stderr


def _last_state(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return [m for m in messages if m["type"] == "STATE"][-1]["value"]


def _apply(rows: dict[Any, dict[str, Any]], messages: list[dict[str, Any]], key: str = "id") -> None:
    """What a merging target does with the messages (docs/CDC.md)."""
    for message in messages:
        if message["type"] == "ACTIVATE_VERSION":
            rows.clear()
        elif message["type"] == "RECORD":
            record = message["record"]
            if record["_sdc_deleted_at"]:
                rows.pop(record[key], None)
            else:
                rows[record[key]] = {k: v for k, v in record.items() if not k.startswith("_sdc_")}


@pytest.fixture
def items(mariadb_service: Any, tmp_path: Path) -> Any:
    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute("CREATE TABLE items (id int PRIMARY KEY, label varchar(20), qty decimal(10,2))")
        cursor.execute("INSERT INTO items VALUES (1, 'a', 1.50), (2, 'b', 2.00), (3, 'c', NULL)")
        config = {
            "host": mariadb_service.host,
            "port": mariadb_service.port,
            "user": mariadb_service.user,
            "database": database,
            "filter_schemas": [database],
        }
        yield config, cursor, _catalog(config, f"{database}-items", tmp_path)


def test_snapshot_then_changes_then_rerun(items: Any, tmp_path: Path) -> None:
    config, cursor, catalog = items
    code, messages, stderr = _run(config, catalog, tmp_path)
    assert code == 0, stderr[-2000:]
    schema = next(m for m in messages if m["type"] == "SCHEMA")
    assert schema["key_properties"] == ["id"] and schema["bookmark_properties"] == ["_sdc_lsn"]
    assert {"_sdc_lsn", "_sdc_deleted_at"} <= set(schema["schema"]["properties"])
    state = _last_state(messages)
    bookmark = state["bookmarks"][catalog["streams"][0]["tap_stream_id"]]
    assert bookmark["snapshot_done"] is True and bookmark["replication_key"] == "_sdc_lsn"
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert {r["_sdc_lsn"] for r in records} == {bookmark["replication_key_value"]}
    rows: dict[Any, dict[str, Any]] = {}
    _apply(rows, messages)
    assert rows == {
        1: {"id": 1, "label": "a", "qty": 1.5},
        2: {"id": 2, "label": "b", "qty": 2},
        3: {"id": 3, "label": "c", "qty": None},
    }

    cursor.execute("INSERT INTO items VALUES (4, 'd', 4.25)")
    cursor.execute("BEGIN")
    cursor.execute("UPDATE items SET label = 'B' WHERE id = 2")
    cursor.execute("UPDATE items SET id = 10 WHERE id = 1")  # a key change
    cursor.execute("DELETE FROM items WHERE id = 3")
    cursor.execute("COMMIT")
    code, changes, stderr = _run(config, catalog, tmp_path, state)
    assert code == 0, stderr[-2000:]
    kinds = [m["type"] for m in changes]
    assert "BATCH" not in kinds and kinds.count("RECORD") == 5  # insert, update, key change (2), delete
    in_transaction = [m["record"] for m in changes if m["type"] == "RECORD"][1:]
    assert len({r["_sdc_lsn"] for r in in_transaction}) == 1  # one transaction, one commit position
    first = [i for i, m in enumerate(changes) if m["type"] == "RECORD"]
    states_inside = [i for i, m in enumerate(changes) if m["type"] == "STATE" and first[1] < i < first[-1]]
    assert not states_inside  # never a STATE inside a transaction
    _apply(rows, changes)
    assert rows == {
        2: {"id": 2, "label": "B", "qty": 2},
        4: {"id": 4, "label": "d", "qty": 4.25},
        10: {"id": 10, "label": "a", "qty": 1.5},
    }

    # nothing new: no records, the same bookmark
    state = _last_state(changes)
    code, again, stderr = _run(config, catalog, tmp_path, state)
    assert code == 0 and not [m for m in again if m["type"] == "RECORD"], stderr[-2000:]

    cursor.execute("TRUNCATE TABLE items")
    cursor.execute("INSERT INTO items VALUES (7, 'g', 7.00)")
    code, after, stderr = _run(config, catalog, tmp_path, _last_state(again))
    assert code == 0, stderr[-2000:]
    assert [m["type"] for m in after if m["type"] != "STATE"] == ["SCHEMA", "ACTIVATE_VERSION", "RECORD"]
    _apply(rows, after)
    assert rows == {7: {"id": 7, "label": "g", "qty": 7}}


def test_fast_path_snapshot_is_parquet_with_its_position(items: Any, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    config, _, catalog = items
    code, messages, stderr = _run({**config, "batch_config": batch_config(tmp_path)}, catalog, tmp_path)
    assert code == 0, stderr[-2000:]
    (batch,) = [m for m in messages if m["type"] == "BATCH"]
    table = pq.read_table(batch["manifest"][0].removeprefix("file://"))
    bookmark = next(iter(_last_state(messages)["bookmarks"].values()))
    assert sorted(table.column("id").to_pylist()) == [1, 2, 3]
    assert set(table.column("_sdc_lsn").to_pylist()) == {bookmark["replication_key_value"]}
    assert table.column("_sdc_deleted_at").null_count == 3


def test_statement_logged_change_is_one_line(items: Any, tmp_path: Path) -> None:
    config, cursor, catalog = items
    code, messages, _ = _run(config, catalog, tmp_path)
    assert code == 0
    cursor.execute("SET SESSION binlog_format = 'STATEMENT'")
    cursor.execute("UPDATE items SET label = 'x' WHERE id = 1")
    cursor.execute("SET SESSION binlog_format = 'ROW'")
    code, _, stderr = _run(config, catalog, tmp_path, _last_state(messages))
    assert code == 2
    line = stderr.strip().splitlines()[-1]
    assert "binlog_format" in line and "logged as a statement" in line and ".items" in line


def test_added_column_is_followed_other_alters_stop(items: Any, tmp_path: Path) -> None:
    config, cursor, catalog = items
    code, messages, _ = _run(config, catalog, tmp_path)
    assert code == 0
    cursor.execute("ALTER TABLE items ADD COLUMN note varchar(10)")
    cursor.execute("INSERT INTO items VALUES (5, 'e', 5.00, 'new')")
    code, changes, stderr = _run(config, catalog, tmp_path, _last_state(messages))
    assert code == 0, stderr[-2000:]
    schemas = [m for m in changes if m["type"] == "SCHEMA"]
    assert "note" in schemas[-1]["schema"]["properties"]
    (record,) = [m["record"] for m in changes if m["type"] == "RECORD"]
    assert (record["id"], record["note"]) == (5, "new")

    cursor.execute("ALTER TABLE items MODIFY qty decimal(12,2), DROP COLUMN note")  # not only types
    code, _, stderr = _run(config, catalog, tmp_path, _last_state(changes))
    assert code == 2
    line = stderr.strip().splitlines()[-1]
    assert "was changed by ALTER" in line and "reset the stream's state" in line


def test_bookmark_in_a_purged_binlog_is_one_line(items: Any, tmp_path: Path) -> None:
    config, _, catalog = items
    stream = catalog["streams"][0]["tap_stream_id"]
    bookmark = {"replication_key": "_sdc_lsn", "replication_key_value": 4, "snapshot_done": True}
    state = {"bookmarks": {stream: {**bookmark, "log_position": "mariadb-bin.000000:4"}}}
    code, messages, stderr = _run(config, catalog, tmp_path, state)
    assert code == 2 and not [m for m in messages if m["type"] == "RECORD"]
    line = stderr.strip().splitlines()[-1]
    assert "mariadb-bin.000000" in line and "purged" in line and "reset the stream's state" in line


def test_user_without_replication_privileges(items: Any, mariadb_service: Any, tmp_path: Path) -> None:
    config, cursor, catalog = items
    user = unique_name("u")
    cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'")
    try:
        cursor.execute(f"GRANT SELECT, LOCK TABLES ON `{config['database']}`.* TO '{user}'@'%'")
        code, _, stderr = _run({**config, "user": user, "password": f"pw-{user}"}, catalog, tmp_path)
    finally:
        cursor.execute(f"DROP USER '{user}'@'%'")
    assert code == 2
    line = stderr.strip().splitlines()[-1]
    assert "REPLICATION CLIENT" in line and f"pw-{user}" not in stderr


def test_table_without_primary_key_is_refused(mariadb_service: Any, tmp_path: Path) -> None:
    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute("CREATE TABLE notes (body text)")
        config = {
            "host": mariadb_service.host,
            "port": mariadb_service.port,
            "user": mariadb_service.user,
            "database": database,
        }
        code, messages, stderr = _run(config, _catalog(config, f"{database}-notes", tmp_path), tmp_path)
    assert code == 2 and not messages
    assert "needs a primary key" in stderr.strip().splitlines()[-1]


def _table_rows(target: dict[str, Any], name: str) -> dict[Any, dict[str, Any]]:
    from target_iceberg.catalog import open_catalog

    table = open_catalog(target).load_table(f"cdc.{name.replace('-', '_')}").scan().to_arrow()
    return {
        row["id"]: {k: v for k, v in row.items() if not k.startswith("_sdc_")} for row in table.to_pylist()
    }


TYPED = (
    "CREATE TABLE typed (id int PRIMARY KEY, u bigint unsigned, f float, d double, n decimal(12,3), "
    "b bit(3), flag tinyint(1), e enum('x','y'), s set('p','q','r'), c char(4), v varchar(10), "
    "bn binary(3), vb varbinary(8), dt datetime(3), ts timestamp(6) NULL, da date, tm time(2), "
    "j json, t text)"
)
TYPED_ROW = (
    "18446744073709551615, 1.1, 2.5, 12.345, b'101', 1, 'y', 'r,p', 'ab', 'héllo', x'0102', x'ff00', "
    "'2024-02-03 04:05:06.789', '2024-02-03 04:05:06.123456', '2024-02-03', '-25:00:01.50', "
    "'{\"a\": [1, 2.5]}', 'text'"
)


def test_changes_land_in_iceberg_as_the_snapshot_would(mariadb_service: Any, tmp_path: Path) -> None:
    """tap-mysql | target-iceberg: a row of every type lands the same from the snapshot (Parquet
    files) and from the binlog (RECORDs); updates, a key change, deletes and a truncate leave the table as the source is;
    a rerun with nothing new changes nothing."""
    from tests.helpers.databases import pipe

    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute(TYPED)
        cursor.execute(f"INSERT INTO typed VALUES (1, {TYPED_ROW}), (2, {TYPED_ROW})")
        config: dict[str, Any] = {
            "host": mariadb_service.host,
            "port": mariadb_service.port,
            "user": mariadb_service.user,
            "database": database,
            "filter_schemas": [database],
            "batch_config": batch_config(tmp_path),
        }
        stream = f"{database}-typed"
        catalog = _catalog(config, stream, tmp_path)
        target = {
            "warehouse_dir": str(tmp_path / "wh"),
            "namespace": "cdc",
            "dead_letter_dir": str(tmp_path / "dl"),
        }

        def run(state: dict[str, Any] | None) -> dict[str, Any]:
            tap_code, target_code, states, stderr = pipe("mysql", config, catalog, target, tmp_path, state)
            assert (tap_code, target_code) == (0, 0), stderr[-3000:]
            assert not list((tmp_path / "dl").glob("**/*.jsonl")), "nothing dead-lettered"
            return states[-1] if states else state or {}

        state = run(None)
        snapshot = _table_rows(target, stream)
        assert set(snapshot) == {1, 2}
        expected = snapshot[1]
        assert (
            expected["u"] == 18446744073709551615
            and expected["s"] == "p,r"
            and expected["tm"] == "-25:00:01.50"
        )

        cursor.execute(f"INSERT INTO typed VALUES (3, {TYPED_ROW})")
        cursor.execute("BEGIN")
        cursor.execute("UPDATE typed SET v = 'changed' WHERE id = 2")
        cursor.execute("UPDATE typed SET id = 20 WHERE id = 1")
        cursor.execute("COMMIT")
        state = run(state)
        rows = _table_rows(target, stream)
        assert rows[3] == {**expected, "id": 3}  # the binlog's values are the snapshot's
        assert rows[20] == {**expected, "id": 20}
        assert rows[2] == {**expected, "id": 2, "v": "changed"}
        assert set(rows) == {2, 3, 20}

        state = run(state)  # nothing new
        assert _table_rows(target, stream) == rows

        cursor.execute("DELETE FROM typed WHERE id = 2")
        cursor.execute("TRUNCATE TABLE typed")
        cursor.execute(f"INSERT INTO typed VALUES (9, {TYPED_ROW})")
        cursor.execute("DELETE FROM typed WHERE id = 9")
        cursor.execute(f"INSERT INTO typed VALUES (10, {TYPED_ROW})")
        run(state)
        assert _table_rows(target, stream) == {10: {**expected, "id": 10}}


COLUMNAR = (
    "CREATE TABLE flat (id int PRIMARY KEY, u bigint unsigned, big bigint, d double, n decimal(12,3), "
    "flag tinyint(1), e enum('x','y'), s set('p','q','r'), c char(4), v varchar(10), dt datetime(3), "
    "ts timestamp(6) NULL, da date, j json, t text)"
)
COLUMNAR_ROW = (
    "18446744073709551615, -9223372036854775808, 2.5, -12.345, 1, 'y', 'r,p', 'ab', 'héllo', "
    "'2024-02-03 04:05:06.789', '2024-02-03 04:05:06.123456', '2024-02-03', '{\"a\": [1, 2.5]}', 'text'"
)


def test_changes_on_the_fast_path_are_batch_files_of_the_snapshot_values(
    mariadb_service: Any, tmp_path: Path
) -> None:
    """With a Parquet batch_config, a table whose every column has an Arrow type sends its changes
    as BATCH files, no RECORD; they land with the snapshot's values, deletes and key moves
    applied."""
    from tests.helpers.databases import pipe

    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute(COLUMNAR)
        cursor.execute(
            f"INSERT INTO flat VALUES (1, {COLUMNAR_ROW}), (2, {COLUMNAR_ROW}), (3, {COLUMNAR_ROW})"
        )
        config: dict[str, Any] = {
            "host": mariadb_service.host,
            "port": mariadb_service.port,
            "user": mariadb_service.user,
            "database": database,
            "filter_schemas": [database],
            "batch_config": batch_config(tmp_path),
        }
        stream = f"{database}-flat"
        catalog = _catalog(config, stream, tmp_path)
        target = {
            "warehouse_dir": str(tmp_path / "wh"),
            "namespace": "cdc",
            "dead_letter_dir": str(tmp_path / "dl"),
        }
        tap_code, target_code, states, stderr = pipe("mysql", config, catalog, target, tmp_path, None)
        assert (tap_code, target_code) == (0, 0), stderr[-3000:]
        snapshot = _table_rows(target, stream)
        expected = snapshot[1]
        assert expected["u"] == 18446744073709551615 and expected["s"] == "p,r" and expected["flag"] is True

        cursor.execute("BEGIN")
        cursor.execute(f"INSERT INTO flat VALUES (4, {COLUMNAR_ROW})")
        cursor.execute("UPDATE flat SET v = 'changed', n = NULL WHERE id = 2")
        cursor.execute("UPDATE flat SET id = 20 WHERE id = 1")
        cursor.execute("DELETE FROM flat WHERE id = 3")
        cursor.execute("COMMIT")
        code, messages, stderr = _run(config, catalog, tmp_path, states[-1])
        assert code == 0, stderr[-3000:]
        assert {m["type"] for m in messages} == {"SCHEMA", "BATCH", "STATE"}

        tap_code, target_code, _, stderr = pipe("mysql", config, catalog, target, tmp_path, states[-1])
        assert (tap_code, target_code) == (0, 0), stderr[-3000:]
        assert not list((tmp_path / "dl").glob("**/*.jsonl")), "nothing dead-lettered"
        assert _table_rows(target, stream) == {
            2: {**expected, "id": 2, "v": "changed", "n": None},
            4: {**expected, "id": 4},
            20: {**expected, "id": 20},
        }
