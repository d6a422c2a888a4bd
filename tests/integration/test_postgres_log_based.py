"""LOG_BASED replication from PostgreSQL (pgoutput) into target-iceberg, standalone
(`tap-postgres | target-iceberg`): the table holds exactly the source's rows after a snapshot,
inserts, updates, deletes, key changes, a truncate, an added column and reruns (docs/CDC.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from target_iceberg.catalog import open_catalog

from tests.helpers.databases import batch_config, discover, pg_schema, pipe, unique_name

pytestmark = pytest.mark.integration


@contextmanager
def log_source(pg_service: Any, tmp: Path, path: str) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """A schema with table ``items`` and the tap config reading it by log; the slot and
    publication dropped afterwards."""
    slot, publication = unique_name("slot"), unique_name("pub")
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(
            f'CREATE TABLE "{schema}".items (id integer PRIMARY KEY, label text NOT NULL, n integer)'
        )
        config: dict[str, Any] = {
            "host": pg_service.host,
            "port": pg_service.port,
            "user": pg_service.user,
            "database": pg_service.db,
            "filter_schemas": [schema],
            "replication_slot": slot,
            "publication": publication,
        }
        if path == "batch":
            config["batch_config"] = batch_config(tmp)
        try:
            yield schema, cursor, config
        finally:
            cursor.execute(
                "SELECT pg_drop_replication_slot(%s) FROM pg_replication_slots WHERE slot_name = %s",
                (slot, slot),
            )
            cursor.execute(f'DROP PUBLICATION IF EXISTS "{publication}"')


def log_catalog(config: dict[str, Any], stream_id: str, tmp: Path) -> dict[str, Any]:
    """The discovered catalog with ``stream_id`` selected for LOG_BASED replication."""
    catalog = discover("postgres", config, tmp)
    streams = [s for s in catalog["streams"] if s["tap_stream_id"] == stream_id]
    for stream in streams:
        stream["replication_method"] = "LOG_BASED"
    return {"streams": streams}


class Pipeline:
    """Runs `tap-postgres | target-iceberg` from the last committed state; reads the table back."""

    def __init__(self, config: dict[str, Any], schema: str, tmp: Path, **target: Any) -> None:
        self.config, self.tmp = config, tmp
        self.stream = f"{schema}-items"
        self.catalog = log_catalog(config, self.stream, tmp)
        self.target = {
            "warehouse_dir": str(tmp / "wh"),
            "namespace": "cdc",
            "dead_letter_dir": str(tmp / "dead"),
            **target,
        }
        self.states: list[dict[str, Any] | None] = [None]

    def run(self, state: dict[str, Any] | None = None) -> str:
        given = state if state is not None else self.states[-1]
        tap_code, target_code, states, stderr = pipe(
            "postgres", self.config, self.catalog, self.target, self.tmp, given
        )
        assert (tap_code, target_code) == (0, 0), stderr[-3000:]
        assert states, stderr[-3000:]
        self.states.append(states[-1])
        return stderr

    def rows(self, *columns: str) -> list[tuple[Any, ...]]:
        table = open_catalog(self.target).load_table(f"cdc.{self.stream.replace('-', '_')}")
        data = table.scan().to_arrow().sort_by("id")
        return list(zip(*(data.column(c).to_pylist() for c in columns), strict=True))


def source_rows(cursor: Any, schema: str, *columns: str) -> list[tuple[Any, ...]]:
    cursor.execute(f'SELECT {", ".join(columns)} FROM "{schema}".items ORDER BY id')
    return [tuple(row) for row in cursor.fetchall()]


@pytest.mark.parametrize("path", ["record", "batch"])
def test_changes_land_as_changes(pg_service: Any, tmp_path: Path, path: str) -> None:
    with log_source(pg_service, tmp_path, path) as (schema, cursor, config):
        table = f'"{schema}".items'
        cursor.execute(f"INSERT INTO {table} SELECT g, 'l' || g, g FROM generate_series(1, 50) g")
        pipeline = Pipeline(config, schema, tmp_path)
        pipeline.run()
        assert pipeline.rows("id", "label", "n") == source_rows(cursor, schema, "id", "label", "n")
        assert pipeline.states[-1]["bookmarks"][pipeline.stream]["snapshot_done"] is True

        # One transaction: an update, a delete, a key change, an insert; then more, in others.
        cursor.execute(
            f"BEGIN; UPDATE {table} SET label = 'two' WHERE id = 2; DELETE FROM {table} WHERE id = 3; "
            f"UPDATE {table} SET id = 400 WHERE id = 4; INSERT INTO {table} VALUES (51, 'new', 51); COMMIT"
        )
        cursor.execute(f"DELETE FROM {table} WHERE id BETWEEN 10 AND 19")
        cursor.execute(f"UPDATE {table} SET n = n * 10 WHERE id > 40")
        cursor.execute(f"INSERT INTO {table} VALUES (5000, 'inserted then deleted', 0)")
        cursor.execute(f"DELETE FROM {table} WHERE id = 5000")
        after_changes = pipeline.states[-1]
        pipeline.run()
        expected = source_rows(cursor, schema, "id", "label", "n")
        assert pipeline.rows("id", "label", "n") == expected
        assert (400, "l4", 40) in expected and not any(row[0] in (3, 4, 5000) for row in expected)

        # The same changes read again (a stop before the state was saved: the slot is confirmed
        # only by the next run's state), then on from the newer state: nothing lands twice.
        pipeline.run(after_changes)
        assert pipeline.rows("id", "label", "n") == expected

        # A truncate and the rows written after it, in one transaction; an added column.
        cursor.execute(
            f"BEGIN; TRUNCATE {table}; INSERT INTO {table} VALUES (1, 'after', 1), (2, 'after', 2); COMMIT"
        )
        cursor.execute(f"ALTER TABLE {table} ADD COLUMN note text")
        cursor.execute(f"INSERT INTO {table} VALUES (3, 'noted', 3, 'hello')")
        pipeline.run()
        assert pipeline.rows("id", "label", "note") == source_rows(cursor, schema, "id", "label", "note")
        assert pipeline.rows("id", "note") == [(1, None), (2, None), (3, "hello")]


@pytest.mark.parametrize("path", ["record", "batch"])
def test_soft_deletes_keep_the_row_marked(pg_service: Any, tmp_path: Path, path: str) -> None:
    with log_source(pg_service, tmp_path, path) as (schema, cursor, config):
        table = f'"{schema}".items'
        cursor.execute(f"ALTER TABLE {table} REPLICA IDENTITY FULL")  # deletes carry the whole row
        cursor.execute(f"INSERT INTO {table} VALUES (1, 'one', 1), (2, 'two', 2)")
        pipeline = Pipeline(config, schema, tmp_path, deletes="soft")
        pipeline.run()
        cursor.execute(f"DELETE FROM {table} WHERE id = 2")
        pipeline.run()
        rows = pipeline.rows("id", "label", "_sdc_deleted_at")
        assert [row[:2] for row in rows] == [(1, "one"), (2, "two")]
        assert rows[0][2] is None and rows[1][2] is not None


def test_publication_without_the_table_is_one_line(pg_service: Any, tmp_path: Path) -> None:
    with log_source(pg_service, tmp_path, "record") as (schema, cursor, config):
        cursor.execute(f'CREATE TABLE "{schema}".other (id integer PRIMARY KEY)')
        cursor.execute(f'CREATE PUBLICATION "{config["publication"]}" FOR TABLE "{schema}".other')
        pipeline = Pipeline(config, schema, tmp_path)
        code, _, _, stderr = pipe("postgres", config, pipeline.catalog, pipeline.target, tmp_path)
    assert code == 2
    assert f"publication: '{config['publication']}' does not publish {schema}.items" in stderr


def test_user_without_replication_is_one_line(pg_service: Any, tmp_path: Path) -> None:
    role = unique_name("reader")
    with log_source(pg_service, tmp_path, "record") as (schema, cursor, config):
        cursor.execute(f'CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        cursor.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
        try:
            pipeline = Pipeline(config, schema, tmp_path)
            code, _, _, stderr = pipe(
                "postgres", {**config, "user": role}, pipeline.catalog, pipeline.target, tmp_path
            )
        finally:
            cursor.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM {role}')
            cursor.execute(f'REVOKE USAGE ON SCHEMA "{schema}" FROM {role}; DROP ROLE {role}')
    assert code == 2
    assert f"user: '{role}' may not read the change log" in stderr


def test_slot_read_past_the_bookmark_is_refused(pg_service: Any, tmp_path: Path) -> None:
    """A slot confirmed beyond the table's bookmark (consumed by someone else) lost changes:
    the run stops rather than land a table with holes."""
    with log_source(pg_service, tmp_path, "record") as (schema, cursor, config):
        cursor.execute(f"INSERT INTO \"{schema}\".items VALUES (1, 'one', 1)")
        pipeline = Pipeline(config, schema, tmp_path)
        pipeline.run()
        cursor.execute("SET synchronous_commit = on")  # flushed at commit: the other reader gets it
        cursor.execute(f"INSERT INTO \"{schema}\".items VALUES (2, 'two', 2)")
        connection = psycopg2.connect(pg_service.dsn)
        connection.autocommit = True
        with connection.cursor() as other:
            other.execute(
                "SELECT count(*) FROM pg_logical_slot_get_binary_changes(%s, NULL, NULL, 'proto_version', '1', "
                "'publication_names', %s)",
                (config["replication_slot"], config["publication"]),
            )
        connection.close()
        code, _, _, stderr = pipe(
            "postgres", config, pipeline.catalog, pipeline.target, tmp_path, pipeline.states[-1]
        )
    assert code == 2
    assert "the changes in between are gone" in stderr


@pytest.mark.parametrize("path", ["record", "batch"])
def test_unchanged_large_value_needs_replica_identity_full(
    pg_service: Any, tmp_path: Path, path: str
) -> None:
    """An update leaving a TOASTed value as it was does not carry it in the log: with REPLICA
    IDENTITY FULL the old row has it and it is kept; without, the run stops with one line rather
    than land a null."""
    with log_source(pg_service, tmp_path, path) as (schema, cursor, config):
        table = f'"{schema}".items'
        cursor.execute(f"ALTER TABLE {table} ADD COLUMN body text, REPLICA IDENTITY FULL")
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN body SET STORAGE EXTERNAL")  # out of line
        cursor.execute(f"INSERT INTO {table} VALUES (1, 'one', 1, repeat('x', 10000))")
        pipeline = Pipeline(config, schema, tmp_path)
        pipeline.run()
        cursor.execute(f"UPDATE {table} SET n = 2 WHERE id = 1")
        pipeline.run()
        assert pipeline.rows("id", "n", "body") == [(1, 2, "x" * 10000)]

        cursor.execute(f"ALTER TABLE {table} REPLICA IDENTITY DEFAULT")
        cursor.execute(f"UPDATE {table} SET n = 3 WHERE id = 1")
        code, _, _, stderr = pipe(
            "postgres", config, pipeline.catalog, pipeline.target, tmp_path, pipeline.states[-1]
        )
    assert code == 2
    assert f"{schema}.items: column 'body' holds a large (TOASTed) value" in stderr
    assert "REPLICA IDENTITY FULL" in stderr


TYPED_COLUMNS = (
    "s smallint, b bigint, amount numeric(12,2), free numeric, r real, d double precision, "
    "flag boolean, day date, at timestamp, atz timestamptz, doc jsonb, js json, u uuid, raw bytea, "
    "v varchar(20)"
)
TYPED_VALUES = (
    "-32768, 9223372036854775807, -1234567890.12, 3.14159265358979323846264338327950288, 1.1, "
    "-0.5e-300, true, '2024-02-29', '2024-02-29 23:59:59.999999', '2024-02-29 23:59:59.5+05:30', "
    """'{"a": [1, 2.50, "x"], "b": null}', '{"k":  1}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', """
    "'\\x00ff10'::bytea, 'vär'"
)


@pytest.mark.parametrize("path", ["record", "batch"])
def test_a_row_lands_the_same_from_the_snapshot_and_the_log(
    pg_service: Any, tmp_path: Path, path: str
) -> None:
    """Every type a change may carry (the fast path casts PostgreSQL's text of it per column):
    a row inserted, updated and copied after the snapshot reads back as the snapshot's row did."""
    with log_source(pg_service, tmp_path, path) as (schema, cursor, config):
        table = f'"{schema}".items'
        cursor.execute(
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS e text, "
            + ", ".join(f"ADD COLUMN {column}" for column in TYPED_COLUMNS.split(", "))
        )
        names = ["label", "n", "e", *(column.split()[0] for column in TYPED_COLUMNS.split(", "))]
        cursor.execute(f"INSERT INTO {table} VALUES (1, 'one', NULL, '', {TYPED_VALUES})")
        cursor.execute(f"INSERT INTO {table} (id, label) VALUES (9, 'nulls')")
        pipeline = Pipeline(config, schema, tmp_path)
        pipeline.run()
        snapshot = pipeline.rows("id", *names)
        cursor.execute(
            f"BEGIN; INSERT INTO {table} SELECT 2, {', '.join(names)} FROM {table} WHERE id = 1; "
            f"UPDATE {table} SET label = label WHERE id IN (1, 9); "
            f"INSERT INTO {table} (id, label) VALUES (10, 'nulls'); COMMIT"
        )
        stderr = pipeline.run()
        after = pipeline.rows("id", *names)
        if path == "batch":  # the changes came as columns, in one Parquet file
            assert "0 records, 1 batch manifests" in stderr
    assert [row[1:] for row in after] == [snapshot[0][1:], snapshot[0][1:], snapshot[1][1:], snapshot[1][1:]]
    one = dict(zip(names, snapshot[0][1:], strict=True))
    assert (one["b"], one["r"], one["raw"], one["e"], one["v"]) == (
        9223372036854775807,
        1.1,
        "00ff10",
        "",
        "vär",
    )
