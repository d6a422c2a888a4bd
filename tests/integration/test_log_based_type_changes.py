"""Column types changed in the source while LOG_BASED streams read it (docs/CDC.md, "Changed
column types"), against the real PostgreSQL and MariaDB into target-iceberg: widened types
(int → bigint, numeric(10,2) → numeric(14,2), real/float → double, varchar(10) → varchar(50))
evolve the table and values beyond the old types land exactly, also after a rerun; a change
Iceberg cannot promote (int → text) stops the run with one line, nothing of it written."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from target_iceberg.bookmark import branch_state
from target_iceberg.catalog import open_catalog

from tests.helpers.databases import create_orders, mariadb_database, pg_schema, pipe
from tests.helpers.project import REPO, Project
from tests.integration.test_database_jobs import _lake_rows, _pg_env, _run
from tests.integration.test_mysql_log_based import _catalog as mysql_catalog
from tests.integration.test_postgres_log_based import Pipeline, log_source, source_rows

pytestmark = pytest.mark.integration

COLUMNS = ("id", "n", "amount", "ratio", "label")
BIG = (2**40 + 7, Decimal("123456789012.34"), 1.2345678901234567, "a label much longer than ten")


def _types(target: dict[str, Any], identifier: str) -> dict[str, str]:
    table = open_catalog(target).load_table(identifier)
    return {f.name: str(f.field_type) for f in table.schema().fields if f.name in COLUMNS}


def _bookmark(target: dict[str, Any], identifier: str) -> Any:
    """The table's committed bookmark and its snapshot count."""
    table = open_catalog(target).load_table(identifier)
    return branch_state(table, None), len(table.snapshots())


def _dead_letters(tmp: Path) -> list[str]:
    return [
        line for path in sorted((tmp / "dead").rglob("*.jsonl")) for line in path.read_text().splitlines()
    ]


def test_postgres_widened_types_evolve_the_table(pg_service: Any, tmp_path: Path) -> None:
    with log_source(pg_service, tmp_path, "batch") as (schema, cursor, config):
        table = f'"{schema}".items'
        cursor.execute(
            f"ALTER TABLE {table} DROP COLUMN n, DROP COLUMN label, ADD COLUMN n integer, "
            "ADD COLUMN amount numeric(10,2), ADD COLUMN ratio real, ADD COLUMN label varchar(10)"
        )
        cursor.execute(f"INSERT INTO {table} VALUES (1, 1, 1.5, 0.5, 'one'), (2, 2, 2.25, 0.25, 'two')")
        pipeline = Pipeline(config, schema, tmp_path)
        pipeline.run()
        identifier = f"cdc.{schema}_items"
        assert _types(pipeline.target, identifier)["amount"] == "decimal(10, 2)"

        # A change with the old types, the columns widened, then changes only the wider types hold.
        cursor.execute(f"INSERT INTO {table} VALUES (3, 3, 99999999.99, 0.125, 'three')")
        cursor.execute(
            f"ALTER TABLE {table} ALTER COLUMN n TYPE bigint, ALTER COLUMN amount TYPE numeric(14,2), "
            "ALTER COLUMN ratio TYPE double precision, ALTER COLUMN label TYPE varchar(50)"
        )
        cursor.execute(f"INSERT INTO {table} VALUES (4, %s, %s, %s, %s)", BIG)
        cursor.execute(
            f"UPDATE {table} SET n = %s, amount = %s WHERE id = 1", (-(2**40), Decimal("-98765432109.87"))
        )
        before = pipeline.states[-1]
        stderr = pipeline.run()
        assert _dead_letters(tmp_path) == [], stderr[-2000:]
        assert pipeline.rows(*COLUMNS) == source_rows(cursor, schema, *COLUMNS)
        assert pipeline.rows(*COLUMNS)[3] == (4, *BIG)
        assert _types(pipeline.target, identifier) == {
            "id": "long",
            "n": "long",
            "amount": "decimal(14, 2)",
            "ratio": "double",
            "label": "string",
        }

        # The same changes read again from the older state: the same rows, once each.
        pipeline.run(before)
        assert pipeline.rows(*COLUMNS) == source_rows(cursor, schema, *COLUMNS)


def test_postgres_type_change_iceberg_cannot_promote_is_refused(pg_service: Any, tmp_path: Path) -> None:
    with log_source(pg_service, tmp_path, "record") as (schema, cursor, config):
        table = f'"{schema}".items'
        cursor.execute(f"INSERT INTO {table} VALUES (1, 'one', 1)")
        pipeline = Pipeline(config, schema, tmp_path)
        pipeline.run()
        identifier = f"cdc.{schema}_items"
        committed = _bookmark(pipeline.target, identifier)

        cursor.execute(f"INSERT INTO {table} VALUES (2, 'two', 2)")
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN n TYPE text")
        cursor.execute(f"INSERT INTO {table} VALUES (3, 'three', 'many')")
        _, target_code, states, stderr = pipe(
            "postgres", config, pipeline.catalog, pipeline.target, tmp_path, pipeline.states[-1]
        )
        assert target_code == 2, stderr[-2000:]
        refusals = [line for line in stderr.splitlines() if "not a promotion Iceberg allows" in line]
        assert len(refusals) == 1, stderr[-2000:]
        assert (
            f"table {identifier} column 'n': the source changed its type from long to string" in refusals[0]
        )
        # Nothing of the run committed (row 2 came before the change, in the same run): the
        # bookmark stays, so a rerun reads the same changes and stops the same way.
        assert states == [] and _bookmark(pipeline.target, identifier) == committed
        assert pipeline.rows("id", "label", "n") == [(1, "one", 1)]


class MariaDBPipeline:
    """`tap-mysql | target-iceberg` of table ``items`` read by log, from the last committed state."""

    def __init__(self, service: Any, database: str, tmp: Path) -> None:
        self.config = {
            "host": service.host,
            "port": service.port,
            "user": service.user,
            "database": database,
            "filter_schemas": [database],
        }
        self.tmp = tmp
        self.catalog = mysql_catalog(self.config, f"{database}-items", tmp)
        self.target = {
            "warehouse_dir": str(tmp / "wh"),
            "namespace": "cdc",
            "dead_letter_dir": str(tmp / "dead"),
        }
        self.identifier = f"cdc.{database}_items"
        self.states: list[dict[str, Any] | None] = [None]

    def run(self, state: dict[str, Any] | None = None) -> tuple[int, str]:
        given = state if state is not None else self.states[-1]
        _, code, states, stderr = pipe("mysql", self.config, self.catalog, self.target, self.tmp, given)
        if code == 0:
            self.states.append(states[-1])
        return code, stderr

    def rows(self, *columns: str) -> list[tuple[Any, ...]]:
        data = open_catalog(self.target).load_table(self.identifier).scan().to_arrow().sort_by("id")
        return list(zip(*(data.column(c).to_pylist() for c in columns), strict=True))


def _mariadb_rows(cursor: Any, *columns: str) -> list[tuple[Any, ...]]:
    cursor.execute(f"SELECT {', '.join(columns)} FROM items ORDER BY id")
    return [tuple(row) for row in cursor.fetchall()]


def test_mariadb_modified_types_evolve_the_table(mariadb_service: Any, tmp_path: Path) -> None:
    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute(
            "CREATE TABLE items (id int PRIMARY KEY, n int, amount decimal(10,2), ratio float, label varchar(10))"
        )
        cursor.execute("INSERT INTO items VALUES (1, 1, 1.50, 0.5, 'one'), (2, 2, 2.25, 1.1, 'two')")
        pipeline = MariaDBPipeline(mariadb_service, database, tmp_path)
        assert pipeline.run()[0] == 0
        assert _types(pipeline.target, pipeline.identifier)["amount"] == "decimal(10, 2)"

        cursor.execute(
            "INSERT INTO items VALUES (3, 3, 99999999.99, 3.3, 'three')"
        )  # FLOAT: 3.3 as MariaDB shows it
        cursor.execute(
            "ALTER TABLE items MODIFY COLUMN n bigint, MODIFY amount decimal(14,2), MODIFY ratio double, "
            "MODIFY label varchar(50)"
        )
        cursor.execute("INSERT INTO items VALUES (4, %s, %s, %s, %s)", BIG)
        cursor.execute(
            "UPDATE items SET n = %s, amount = %s WHERE id = 1", (-(2**40), Decimal("-98765432109.87"))
        )
        before = pipeline.states[-1]
        code, stderr = pipeline.run()
        assert code == 0 and _dead_letters(tmp_path) == [], stderr[-2000:]
        expected = [
            (1, -(2**40), Decimal("-98765432109.87"), 0.5, "one"),
            (2, 2, Decimal("2.25"), 1.1, "two"),
            (3, 3, Decimal("99999999.99"), 3.3, "three"),
            (4, *BIG),
        ]
        assert pipeline.rows(*COLUMNS) == expected
        assert _types(pipeline.target, pipeline.identifier) == {
            "id": "long",
            "n": "long",
            "amount": "decimal(14, 2)",
            "ratio": "double",
            "label": "string",
        }
        assert pipeline.run(before)[0] == 0  # read again: the same rows, once each
        assert pipeline.rows(*COLUMNS) == expected


def test_mariadb_type_change_iceberg_cannot_promote_is_refused(mariadb_service: Any, tmp_path: Path) -> None:
    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute("CREATE TABLE items (id int PRIMARY KEY, n int)")
        cursor.execute("INSERT INTO items VALUES (1, 1)")
        pipeline = MariaDBPipeline(mariadb_service, database, tmp_path)
        assert pipeline.run()[0] == 0
        committed = _bookmark(pipeline.target, pipeline.identifier)

        cursor.execute("INSERT INTO items VALUES (2, 2)")
        cursor.execute("ALTER TABLE items MODIFY n varchar(20)")
        cursor.execute("INSERT INTO items VALUES (3, 'many')")
        code, stderr = pipeline.run()
        assert code == 2, stderr[-2000:]
        line = f"table {pipeline.identifier} column 'n': the source changed its type from long to string"
        assert line in stderr
        assert _bookmark(pipeline.target, pipeline.identifier) == committed
        assert pipeline.rows("id", "n") == [(1, 1)]


def test_dativo_run_widens_a_column_the_asset_declares_narrower(project: Project, pg_service: Any) -> None:
    """`dativo run` of the README's orders job by cursor column (asset in relaxed mode): the
    source's amount widened from numeric(12,2) to numeric(16,2) after the first run widens the
    table at the next run's start (the code a log-based run starts with too)."""
    asset = project.root / "assets" / "postgres" / "v1.0" / "db_orders.yaml"
    spec = yaml.safe_load(asset.read_text())
    spec["asset"]["target"]["mode"] = "relaxed"
    asset.write_text(yaml.safe_dump(spec, sort_keys=False))
    with pg_schema(pg_service.dsn) as (schema, cursor):
        orders = f'"{schema}".orders'
        create_orders(cursor, orders)
        insert = f"INSERT INTO {orders} VALUES (%s, 10, 'new', %s, 'USD', NULL, now(), now())"
        cursor.execute(insert, (1, Decimal("9999999999.99")))
        job = yaml.safe_load((REPO / "jobs" / "acme" / "postgres_orders_to_iceberg.yaml").read_text())
        job["source"]["objects"] = [f"{schema}.orders"]
        path, env = project.write_job("orders_widened", job), _pg_env(pg_service)
        _run(project, path, env)
        cursor.execute(f"ALTER TABLE {orders} ALTER COLUMN amount TYPE numeric(16,2)")
        cursor.execute(insert, (2, Decimal("12345678901234.56")))
        summary = _run(project, path, env)
    assert summary["streams"][0]["dead_letter_rows"] == 0
    amounts = _lake_rows(project, "acme.db_orders", ("order_id", "amount"))
    assert amounts == [(1, Decimal("9999999999.99")), (2, Decimal("12345678901234.56"))]
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.db_orders")
    assert str(table.schema().find_field("amount").field_type) == "decimal(16, 2)"
