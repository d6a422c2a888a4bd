"""The database taps' bulk RECORD path writes the same messages as singer-sdk's per-record path:
every column type of PostgreSQL and MariaDB, value by value and byte by byte (only
``time_extracted`` differs: it is taken per block), and the same STATE messages at the same
places. Stream maps and flattening keep the per-record path, and are applied; so do a
``sqlalchemy_url``'s query parameters (only SQLAlchemy's driver is given them)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any

import pytest
from singer_sdk.sql import SQLStream
from tap_mysql.tap import TapMySQL
from tap_postgres.tap import TapPostgres

from tests.helpers.databases import mariadb_database, pg_schema
from tests.integration.test_database_types import MY_DDL, PG_DDL, UUID

pytestmark = pytest.mark.integration

# Values whose JSON text is easy to get wrong in bulk: escapes, control characters, non-ASCII,
# decimals Python writes in exponent form, whole and fractional seconds.
PG_EXTRA = r"""INSERT INTO {s}.types (id, dec, dec2, r, d, tx, vc, ts, tstz, j, at) VALUES
 (4, 0.0000000, 0.00, 3.4e38, 1e16, E'back\\slash \x01 tab\t " \u2028 é', 'a,b', '0001-01-01 00:00:00.000001',
  '1999-12-31 23:59:59.5+00', '{{"x": 12345678901234567890123, "y": "é"}}', '{{"q\"","\\"}}'),
 (5, 100, -0.50, -0.0, 1e-7, '', 'x', '2024-06-01 00:00:00', '2024-06-01 00:00:00.010000+00', '1.50', NULL)
"""
MY_EXTRA = r"""INSERT INTO types (id, dec38, dec2, f, d, tx, vc, ts, dtm, j, tm) VALUES
 (4, 0.0000000, 0.00, 3.4e38, 1e16, 'back\\slash \t " é', 'a,b', '1970-01-02 00:00:00.000001',
  '1000-01-01 00:00:00.5', '{"x": 12345678901234567890123}', '838:59:59'),
 (5, 100, -0.50, -0.0, 1e-7, '', 'x', '2024-06-01 00:00:00', '2024-06-01 00:00:00.01', '1.50', '-01:00:00')
"""


def _tap(tap_class: type, config: dict[str, Any], stream_id: str, deselect: tuple[str, ...] = ()) -> Any:
    """The tap with ``stream_id`` selected (but ``deselect``), incremental on ``id``."""
    catalog = json.loads(_discover(tap_class, config))
    streams = [s for s in catalog["streams"] if s["tap_stream_id"] == stream_id]
    for entry in streams[0]["metadata"]:
        entry["metadata"]["selected"] = entry["breadcrumb"][-1:] not in [[name] for name in deselect]
        if entry["breadcrumb"] == []:
            entry["metadata"]["replication-method"] = "INCREMENTAL"
            entry["metadata"]["replication-key"] = "id"
    streams[0]["replication_key"], streams[0]["replication_method"] = "id", "INCREMENTAL"
    return tap_class(config=config, catalog={"streams": streams}, state={})


def _run(
    tap_class: type,
    config: dict[str, Any],
    stream_id: str,
    *,
    per_record: bool,
    deselect: tuple[str, ...] = (),
    version: int | None = None,
) -> list[bytes]:
    """The stream's messages from the bulk path or singer-sdk's own per-record loop
    (``version``: as ``sync`` sets it for ACTIVATE_VERSION)."""
    stream = _tap(tap_class, config, stream_id, deselect).streams[stream_id]
    stream._stream_version = version
    stream.STATE_MSG_FREQUENCY = 2  # a STATE inside the rows as well as at the end
    out = io.StringIO()
    with redirect_stdout(out):
        stream.prepare()
        if per_record:
            for _ in SQLStream._sync_records(stream):  # singer-sdk's per-record loop
                pass
        else:
            assert stream.per_record_reason() is None
            for _ in stream.sync_records():
                pass
    return [line.encode() for line in out.getvalue().split("\n") if line]  # not splitlines: U+2028


def _discover(tap_class: type, config: dict[str, Any]) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        tap_class(config=config).run_discovery()
    return out.getvalue()


def _without_time(line: bytes) -> bytes:
    head, sep, _ = line.partition(b',"time_extracted":')
    return head + b"}" if sep else line


def _assert_same(bulk: list[bytes], per_record: list[bytes], rows: int) -> None:
    assert [_without_time(x) for x in bulk] == [_without_time(x) for x in per_record]
    records = [json.loads(x) for x in bulk if x.startswith(b'{"type":"RECORD"')]
    assert len(records) == rows
    assert all(r["time_extracted"].endswith("+00:00") for r in records)
    states = [json.loads(x)["value"] for x in bulk if x.startswith(b'{"type":"STATE"')]
    assert len(states) >= 3, states
    assert next(iter(states[-1]["bookmarks"].values()))["replication_key_value"] == rows


def test_postgres_bulk_records_match_per_record_path(pg_service) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(PG_DDL.format(s=f'"{schema}"', uuid=UUID))
        cursor.execute(PG_EXTRA.format(s=f'"{schema}"'))
        config = {
            "host": pg_service.host,
            "port": pg_service.port,
            "user": pg_service.user,
            "database": pg_service.db,
            "filter_schemas": [schema],
        }
        bulk = _run(TapPostgres, config, f"{schema}-types", per_record=False)
        one_by_one = _run(TapPostgres, config, f"{schema}-types", per_record=True)
    _assert_same(bulk, one_by_one, 5)
    record = json.loads(next(x for x in bulk if b'"id":4' in x))["record"]
    assert record["tx"] == 'back\\slash \x01 tab\t " \u2028 é'
    assert record["ts"] == "0001-01-01T00:00:00.000001+00:00"
    assert record["tstz"] == "1999-12-31T23:59:59.500000+00:00"
    # numeric(38,10): more digits than singer-sdk peers check, sent as a string of plain digits
    assert b'"dec":"0.0000000000"' in next(x for x in bulk if b'"id":4' in x)


def test_mariadb_bulk_records_match_per_record_path(mariadb_service) -> None:
    with mariadb_database(mariadb_service) as (database, cursor):
        for statement in [*MY_DDL, MY_EXTRA]:
            cursor.execute(statement)
        config = {
            "host": mariadb_service.host,
            "port": mariadb_service.port,
            "user": mariadb_service.user,
            "database": database,
            "filter_schemas": [database],
        }
        stream_id = f"{database}-types"
        bulk = _run(TapMySQL, config, stream_id, per_record=False, version=17)
        one_by_one = _run(TapMySQL, config, stream_id, per_record=True, version=17)
    _assert_same(bulk, one_by_one, 5)
    # MySQL TIME beyond a day and negative, as MySQL prints it (the column's six decimals)
    times = {json.loads(x)["record"]["id"]: json.loads(x)["record"]["tm"] for x in bulk if b'"RECORD"' in x}
    assert (times[4], times[5]) == ("838:59:59.000000", "-01:00:00.000000")
    assert all(b'},"version":17,"time_extracted":' in x for x in bulk if x.startswith(b'{"type":"RECORD"'))
    record = json.loads(next(x for x in bulk if b'"id":1,' in x))["record"]
    assert (record["bu"], record["tb"], record["y"]) == (2**64 - 1, True, 2024)


def test_stream_maps_flattening_and_url_parameters_keep_the_per_record_path(pg_service) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(f'CREATE TABLE "{schema}".people (id int PRIMARY KEY, name text, secret text)')
        cursor.execute(f"""INSERT INTO "{schema}".people VALUES (1, 'ada', 'x'), (2, 'bob', 'y')""")
        stream_id = f"{schema}-people"
        base = {
            "host": pg_service.host,
            "port": pg_service.port,
            "user": pg_service.user,
            "database": pg_service.db,
            "filter_schemas": [schema],
        }
        flat = _tap(TapPostgres, {**base, "flattening_enabled": True, "flattening_max_depth": 1}, stream_id)
        assert flat.streams[stream_id].per_record_reason() == "flattening"
        url = (
            f"postgresql://{pg_service.user}@{pg_service.host}:{pg_service.port}/{pg_service.db}"
            "?application_name=dativo-test"
        )
        with_query = _tap(TapPostgres, {"sqlalchemy_url": url, "filter_schemas": [schema]}, stream_id)
        assert with_query.streams[stream_id].per_record_reason() == "sqlalchemy_url query parameters"
        maps = {stream_id: {"shout": "name.upper()", "secret": None}}
        tap = _tap(TapPostgres, {**base, "stream_maps": maps}, stream_id)
        assert tap.streams[stream_id].per_record_reason() == "stream maps"
        out = io.StringIO()
        with redirect_stdout(out):
            tap.sync_all()
    records = [json.loads(x)["record"] for x in out.getvalue().split("\n") if '"type":"RECORD"' in x]
    assert records == [{"id": 1, "name": "ada", "shout": "ADA"}, {"id": 2, "name": "bob", "shout": "BOB"}]
