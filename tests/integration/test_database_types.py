"""Every column type round-trips from PostgreSQL and MariaDB into Iceberg, on the RECORD path and on
the Parquet BATCH fast path, and both paths land identical tables (read back with pyiceberg and
DuckDB)."""

from __future__ import annotations

import datetime as dt
import math
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from target_iceberg.catalog import open_catalog

from tests.helpers import duckdb_reader
from tests.helpers.databases import batch_config, discover, mariadb_database, pg_schema, pipe, select

pytestmark = pytest.mark.integration

UTC = dt.timezone.utc
UUID = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"

PG_DDL = """
CREATE TYPE {s}.mood AS ENUM ('sad', 'happy');
CREATE TABLE {s}.types (
  id bigint PRIMARY KEY, i2 smallint, i4 integer, i8 bigint, dec numeric(38,10), dec2 numeric(12,2),
  r real, d double precision, b boolean, ch char(3), vc varchar(20), tx text, dt date, tm time,
  ts timestamp, tstz timestamptz, j json, jb jsonb, u uuid, by bytea, e {s}.mood, ai integer[],
  at text[], ip inet);
INSERT INTO {s}.types VALUES
 (1, -32768, 2147483647, -9223372036854775808, 1234567890123456789012345678.0123456789, 12.34,
  1.1, 2.5e-7, true, 'ab', 'vé', E'line\\nbreak "q"', '2024-02-29', '23:59:59.999999',
  '2024-01-01 12:00:00.123456', '2024-01-01 12:00:00+05', '{{"a": 1.5, "b": [1, 2]}}', '{{"k": "v"}}',
  '{uuid}', '\\x00ff', 'happy', '{{1,NULL,3}}', '{{"a","b c"}}', '10.0.0.1'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, 32767, -2147483648, 9223372036854775807, -0.0000000001, -0.01, 'NaN', 'Infinity', false, '',
  '', '', '0001-01-01', '00:00', '1970-01-01 00:00', '2038-01-19 03:14:08+00', '[]', 'null',
  '00000000-0000-0000-0000-000000000000', '', 'sad', '{{}}', '{{}}', '::1');
"""

PG_EXPECTED = {
    1: {
        "i2": -32768,
        "i4": 2147483647,
        "i8": -(2**63),
        "dec": Decimal("1234567890123456789012345678.0123456789"),
        "dec2": Decimal("12.34"),
        "r": 1.1,
        "d": 2.5e-7,
        "b": True,
        "ch": "ab ",
        "vc": "vé",
        "tx": 'line\nbreak "q"',
        "dt": dt.date(2024, 2, 29),
        "tm": dt.time(23, 59, 59, 999999),
        "ts": dt.datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
        "tstz": dt.datetime(2024, 1, 1, 7, 0, tzinfo=UTC),
        "j": '{"a":1.5,"b":[1,2]}',
        "jb": '{"k":"v"}',
        "u": UUID,
        "by": "00ff",
        "e": "happy",
        "ai": "[1,null,3]",
        "at": '["a","b c"]',
        "ip": "10.0.0.1/32",
    },
    3: {
        "i2": 32767,
        "i4": -(2**31),
        "i8": 2**63 - 1,
        "dec": Decimal("-0.0000000001"),
        "dec2": Decimal("-0.01"),
        "r": math.nan,  # IEEE values, never NULL (the value contract)
        "d": math.inf,
        "b": False,
        "ch": "   ",
        "vc": "",
        "tx": "",
        "dt": dt.date(1, 1, 1),
        "tm": dt.time(0, 0),
        "ts": dt.datetime(1970, 1, 1, tzinfo=UTC),
        "tstz": dt.datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
        "j": "[]",
        "jb": None,
        "u": "00000000-0000-0000-0000-000000000000",
        "by": "",
        "e": "sad",
        "ai": "[]",
        "at": "[]",
        "ip": "::1/128",
    },
}

MY_DDL = [
    """CREATE TABLE types (
  id int PRIMARY KEY, ti tinyint, tb tinyint(1), si smallint, mi mediumint, i int, iu int unsigned,
  b bigint, bu bigint unsigned, dec38 decimal(38,10), dec2 decimal(12,2), f float, d double,
  bi bit(1), ch char(3), vc varchar(20), tx text, dt date, tm time(6), ts timestamp(6) NULL,
  dtm datetime(6), j json, u uuid, bl blob, e enum('sad','happy'), st set('a','b'), y year,
  ip inet6)""",
    """INSERT INTO types VALUES
 (1, -128, 1, -32768, -8388608, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
  1234567890123456789012345678.0123456789, 12.34, 1.1, 2.5e-7, b'1', 'ab', 'vé', 'line\\nbreak "q"',
  '2024-02-29', '23:59:59.999999', '2024-01-01 12:00:00.123456', '2024-01-01 12:00:00.5',
  '{"a": 1.5, "b": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', x'00ff', 'happy', 'a,b', 2024,
  '::1'),
 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (3, 127, 0, 32767, 8388607, 2147483647, 0, 9223372036854775807, 0, -0.0000000001, -0.01, 0, -1e308,
  b'0', '', '', '', '1000-01-01', '00:00:00', '1970-01-02 00:00:00', '9999-12-31 23:59:59.999999',
  '[]', '00000000-0000-0000-0000-000000000000', x'', 'sad', '', 1901, '2001:db8::1')""",
]

MY_EXPECTED = {
    1: {
        "ti": -128,
        "tb": True,
        "si": -32768,
        "mi": -8388608,
        "i": -(2**31),
        "iu": 4294967295,
        "b": -(2**63),
        "bu": Decimal(2**64 - 1),
        "dec38": Decimal("1234567890123456789012345678.0123456789"),
        "dec2": Decimal("12.34"),
        "f": 1.1,
        "d": 2.5e-7,
        "bi": True,
        "ch": "ab",
        "vc": "vé",
        "tx": 'line\nbreak "q"',
        "dt": dt.date(2024, 2, 29),
        "tm": "23:59:59.999999",  # MySQL TIME: MySQL's text, with the column's six decimals
        "ts": dt.datetime(2024, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
        "dtm": dt.datetime(2024, 1, 1, 12, 0, 0, 500000, tzinfo=UTC),
        "j": '{"a":1.5,"b":[1,2]}',
        "u": UUID,
        "bl": "00ff",
        "e": "happy",
        "st": "a,b",
        "y": 2024,
        "ip": "::1",
    },
    3: {
        "ti": 127,
        "tb": False,
        "si": 32767,
        "mi": 8388607,
        "i": 2**31 - 1,
        "iu": 0,
        "b": 2**63 - 1,
        "bu": Decimal(0),
        "dec38": Decimal("-0.0000000001"),
        "dec2": Decimal("-0.01"),
        "f": 0.0,
        "d": -1e308,
        "bi": False,
        "ch": "",
        "vc": "",
        "tx": "",
        "dt": dt.date(1000, 1, 1),
        "tm": "00:00:00.000000",
        "ts": dt.datetime(1970, 1, 2, tzinfo=UTC),
        "dtm": dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        "j": "[]",
        "u": "00000000-0000-0000-0000-000000000000",
        "bl": "",
        "e": "sad",
        "st": "",
        "y": 1901,
        "ip": "2001:db8::1",
    },
}


def _load_both_paths(
    tap: str, config: dict[str, Any], stream_id: str, tmp: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """The table loaded on the RECORD path and on the BATCH path (two pipes run side by side)."""
    catalog = select(discover(tap, config, tmp), stream_id)

    def load(path: str) -> tuple[list[dict[str, Any]], str]:
        extra = {"batch_config": batch_config(tmp)} if path == "batch" else {}
        target = {"warehouse_dir": str(tmp / f"warehouse-{path}"), "namespace": path}
        tap_code, target_code, states, stderr = pipe(tap, {**config, **extra}, catalog, target, tmp)
        assert (tap_code, target_code) == (0, 0), stderr[-3000:]
        assert states, stderr[-2000:]
        table = open_catalog({"warehouse_dir": str(tmp / f"warehouse-{path}")}).load_table(
            f"{path}.{stream_id.replace('-', '_')}"
        )
        return sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"]), table.metadata_location

    with ThreadPoolExecutor(2) as pool:
        (record, _), (batch, metadata) = pool.map(load, ("record", "batch"))
    return record, batch, metadata


def _pg_config(pg_service: Any, schema: str) -> dict[str, Any]:
    """tap-postgres's config for one schema of the test server."""
    return {
        "host": pg_service.host,
        "port": pg_service.port,
        "user": pg_service.user,
        "database": pg_service.db,
        "filter_schemas": [schema],
    }


def _nan_as_text(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with NaN as a text, so two tables holding NaN in the same cells compare equal."""
    return [{k: "NaN" if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]


def _assert_rows(rows: list[dict[str, Any]], expected: dict[int, dict[str, Any]]) -> None:
    by_id = {int(r["id"]): r for r in rows}
    assert sorted(by_id) == [1, 2, 3]
    assert all(v is None for k, v in by_id[2].items() if k != "id"), by_id[2]
    for key, values in expected.items():
        for column, value in values.items():
            found = by_id[key][column]
            same = found == value or (isinstance(value, float) and math.isnan(value) and math.isnan(found))
            assert same, (key, column, found, value)


def test_postgres_types_round_trip_on_both_paths(pg_service, tmp_path: Path) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(PG_DDL.format(s=f'"{schema}"', uuid=UUID))
        config = _pg_config(pg_service, schema)
        record, batch, metadata = _load_both_paths("postgres", config, f"{schema}-types", tmp_path)
    assert _nan_as_text(record) == _nan_as_text(batch)
    _assert_rows(record, PG_EXPECTED)
    [(dec, micros)] = duckdb_reader.scan(metadata, "SELECT dec, epoch_us(tstz) FROM t WHERE id = 1")
    assert dec == Decimal("1234567890123456789012345678.0123456789")
    assert micros == int(dt.datetime(2024, 1, 1, 7, 0, tzinfo=UTC).timestamp()) * 1_000_000


def test_an_unconstrained_numeric_lands_exactly_as_text_on_both_paths(pg_service, tmp_path: Path) -> None:
    """`numeric` without precision holds any number of digits, NaN and ±Infinity: no
    decimal(38, s) holds them and a double would round them, so they land as their exact text."""
    huge = "1234567890123456789012345678901234567890.123456789"
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(
            f'CREATE TABLE "{schema}".nums (id bigint PRIMARY KEY, n numeric);'
            f"INSERT INTO \"{schema}\".nums VALUES (1, {huge}), (2, 'NaN'), (3, -0.5), (4, NULL), "
            "(5, 'Infinity');"
        )
        config = _pg_config(pg_service, schema)
        record, batch, _ = _load_both_paths("postgres", config, f"{schema}-nums", tmp_path)
    assert record == batch
    assert [r["n"] for r in record] == [huge, "NaN", "-0.5", None, "Infinity"]


def test_a_decimals_nan_is_rejected_on_both_paths_never_null(pg_service, tmp_path: Path) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(
            f'CREATE TABLE "{schema}".decs (id bigint PRIMARY KEY, d numeric(12,2));'
            f"INSERT INTO \"{schema}\".decs VALUES (1, 1.5), (2, 'NaN'), (3, NULL);"
        )
        config = _pg_config(pg_service, schema)
        record, batch, _ = _load_both_paths("postgres", config, f"{schema}-decs", tmp_path)
    assert record == batch == [{"id": 1, "d": Decimal("1.50")}, {"id": 3, "d": None}]


def test_mariadb_types_round_trip_on_both_paths(mariadb_service, tmp_path: Path) -> None:
    with mariadb_database(mariadb_service) as (database, cursor):
        for statement in MY_DDL:
            cursor.execute(statement)
        config = {
            "host": mariadb_service.host,
            "port": mariadb_service.port,
            "user": mariadb_service.user,
            "database": database,
            "filter_schemas": [database],
        }
        record, batch, metadata = _load_both_paths("mysql", config, f"{database}-types", tmp_path)
    assert _nan_as_text(record) == _nan_as_text(batch)
    _assert_rows(record, MY_EXPECTED)
    [(bu, dec2)] = duckdb_reader.scan(metadata, "SELECT bu, dec2 FROM t WHERE id = 1")
    assert (bu, dec2) == (Decimal(2**64 - 1), Decimal("12.34"))
