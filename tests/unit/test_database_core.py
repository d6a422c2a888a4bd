"""The database taps' pure parts: type kinds, SQL text, bookmark literals, error lines (never the
password), and the fast path's Arrow casts matching the RECORD path's values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from dativo_singer.errors import FatalError, RetriableError
from dativo_singer.sql import types as k
from dativo_singer.sql.arrow_columns import convert_batch, stream_arrow_schema
from dativo_singer.sql.dialect import MySQLDialect, PostgresDialect
from dativo_singer.sql.errors import classify
from dativo_singer.sql.settings import connection_of
from dativo_singer.sql.values import convert_row, record_converters


@pytest.mark.parametrize(
    ("type_", "kind"),
    [
        (mysql.TINYINT(display_width=1), k.INT_BOOLEAN),
        (mysql.BIGINT(unsigned=True), k.UINT64),
        (mysql.BIT(1), k.INT_BOOLEAN),
        (mysql.TIMESTAMP(), k.TIMESTAMPTZ),
        (mysql.DATETIME(), k.TIMESTAMP),
        (postgresql.NUMERIC(12, 2), k.DECIMAL),
        (postgresql.REAL(), k.FLOAT32),
        (postgresql.JSONB(), k.JSON),
        (postgresql.ARRAY(sa.Integer()), k.ARRAY),
        (postgresql.ARRAY(postgresql.NUMERIC()), k.UNMAPPED),
        (postgresql.INTERVAL(), k.UNMAPPED),
        (postgresql.MONEY(), k.UNMAPPED),
        (postgresql.TIME(timezone=True), k.UNMAPPED),
    ],
)
def test_column_kinds(type_: sa.types.TypeEngine, kind: str) -> None:
    assert k.column_kind(type_).kind == kind


def test_decimal_and_unsigned_schemas_are_exact() -> None:
    assert k.column_kind(postgresql.NUMERIC(12, 2)).json_schema() == {
        "type": "number",
        "multipleOf": 0.01,
        "maximum": 9999999999.99,
    }
    assert k.column_kind(mysql.BIGINT(unsigned=True)).json_schema()["maximum"] == 2**64 - 1


def test_query_text_and_literals() -> None:
    columns = {"id": k.ColumnKind(k.INT, "bigint"), "ts": k.ColumnKind(k.TIMESTAMPTZ, "timestamp")}
    sql = MySQLDialect().query("crm", "t`x", columns, "ts", "2024-01-01T05:00:00+02:00")
    assert sql == (
        "SELECT `id` AS `id`, CONVERT_TZ(`ts`, @@session.time_zone, '+00:00') AS `ts` FROM `crm`.`t``x` "
        "WHERE CONVERT_TZ(`ts`, @@session.time_zone, '+00:00') >= '2024-01-01 03:00:00.000000' "
        "ORDER BY CONVERT_TZ(`ts`, @@session.time_zone, '+00:00')"
    )
    assert PostgresDialect().quote_string("it's") == "'it''s'"
    assert MySQLDialect().quote_string("a\\'b") == "'a\\\\''b'"


def test_error_lines_name_the_setting_and_never_the_password() -> None:
    config = {"host": "db", "user": "app", "password": "hunter2-secret", "database": "shop"}
    connection = connection_of(config, "postgresql+psycopg2", 5432)
    auth = classify(Exception('FATAL: password authentication failed for user "app"'), connection, config)
    assert isinstance(auth, FatalError) and str(auth).startswith("password: authentication failed")
    host = classify(Exception('could not translate host name "db" to address'), connection, config)
    assert str(host) == "host: cannot resolve 'db'"
    refused = classify(Exception("Connection refused (dsn: x:hunter2-secret@db)"), connection, config)
    assert isinstance(refused, FatalError) and "hunter2-secret" not in str(refused)
    assert str(refused) == "host/port: nothing accepts connections on db:5432 (connection refused): check host and port"
    timeout = classify(Exception("timeout expired (dsn: x:hunter2-secret@db)"), connection, config)
    assert isinstance(timeout, RetriableError) and "hunter2-secret" not in str(timeout)
    with pytest.raises(FatalError, match=r"^host: is required"):
        connection_of({"user": "u", "database": "d"}, "postgresql+psycopg2", 5432)


def test_fast_path_casts_match_record_path_values() -> None:
    columns = {
        "n": k.ColumnKind(k.DECIMAL, "numeric", 12, 2),
        "r": k.ColumnKind(k.FLOAT32, "real"),
        "b": k.ColumnKind(k.INT_BOOLEAN, "tinyint(1)"),
        "ts": k.ColumnKind(k.TIMESTAMP, "datetime"),
        "j": k.ColumnKind(k.JSON, "json"),
    }
    properties = {name: kind.json_schema() for name, kind in columns.items()}
    batch = pa.RecordBatch.from_pydict(
        {
            "n": pa.array(["1.10", "2", None]),
            "r": pa.array([1.1, float("inf"), None], pa.float32()),
            "b": pa.array([2, 0, None], pa.int8()),
            "ts": pa.array([dt.datetime(2024, 1, 1, 12), None, None], pa.timestamp("us")),
            "j": pa.array(['{"a": 1.50}', "null", None]),
        }
    )
    table = convert_batch(batch, stream_arrow_schema(properties, columns), columns)
    rows = table.to_pylist()
    record = convert_row(
        {"n": Decimal("1.10"), "r": 1.1, "b": 2, "ts": dt.datetime(2024, 1, 1, 12), "j": '{"a": 1.50}'},
        record_converters(columns),
    )
    assert rows[0]["n"] == record["n"] == Decimal("1.10")
    assert rows[0]["r"] == record["r"] == 1.1
    assert rows[0]["b"] is record["b"] is True
    assert rows[0]["ts"] == record["ts"] == dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc)
    assert rows[0]["j"] == '{"a":1.5}' and record["j"] == {"a": 1.5}
    # A float's infinity stays an IEEE value; the RECORD path carries it as the text "Infinity"
    # (the value contract).
    assert rows[1] == {"n": Decimal("2.00"), "r": float("inf"), "b": False, "ts": None, "j": None}
    assert convert_row({"r": float("inf")}, record_converters(columns))["r"] == "Infinity"
    assert table.schema.field("j").metadata == {b"dativo.json": b"text"}


def test_a_decimals_nan_goes_as_text_for_the_target_to_reject_never_null() -> None:
    columns = {"n": k.ColumnKind(k.DECIMAL, "numeric", 12, 2)}
    properties = {name: kind.json_schema() for name, kind in columns.items()}
    batch = pa.RecordBatch.from_pydict({"n": pa.array(["1.10", "NaN", "-Infinity", None])})
    table = convert_batch(batch, stream_arrow_schema(properties, columns), columns)
    assert table.column("n").to_pylist() == ["1.10", "NaN", "-Infinity", None]  # text: rejected
    converters = record_converters(columns)
    assert [convert_row({"n": v}, converters)["n"] for v in ("NaN", "1.10")] == ["NaN", Decimal("1.10")]


def test_settings_the_fast_path_cannot_honour_are_refused_at_start() -> None:
    from tap_postgres.tap import TapPostgres

    parquet = {"encoding": {"format": "parquet"}, "storage": {"root": "file:///tmp/x"}}
    base = {"host": "h", "user": "u", "database": "d", "batch_config": parquet}
    with pytest.raises(FatalError, match=r"^stream_maps: not applied to Parquet batch files"):
        TapPostgres(config={**base, "stream_maps": {"s": {"x": "1"}}}, validate_config=True)
    with pytest.raises(FatalError, match=r"^lookback_days: must be 0 or more"):
        TapPostgres(config={"host": "h", "user": "u", "database": "d", "lookback_days": -1})


def test_a_mysql_time_is_read_as_mysql_text_and_a_postgres_time_as_a_time() -> None:
    mysql_time = k.column_kind(mysql.TIME(fsp=3))
    assert (mysql_time.kind, mysql_time.json_schema()) == (k.TIME_TEXT, {"type": "string"})
    assert MySQLDialect().select_expression("tm", mysql_time) == "CAST(`tm` AS CHAR)"
    assert k.column_kind(postgresql.TIME()).json_schema() == {"type": "string", "format": "time"}
