"""Whether a PostgreSQL cursor job has anything new, asked of the server before the pipe starts.

A run resuming from bookmark ``B`` reads the rows whose cursor is at least ``B`` minus the
look-back. Every row version carries ``xmin``, the transaction that wrote it. The mark is the
oldest transaction still running when the check was made (``txid_snapshot_xmin``): every row
version written by an older transaction was committed before the check, so the run that followed
read it. When the rows in that window (taken wider by a day) are all such row versions, that
run read them as they are now, and committed ``B``: a run now would read the same rows and land
nothing new. Any row written, updated or moved into the window since, or a transaction that was
running, answers "something new". Transaction ids are 32 bits on rows and wrap around; the mark
keeps 64 bits and the check answers "unsure" (run) when the server's counter is not within 2^30
after it (another server, a restored database, a very old mark).
"""

from __future__ import annotations

from typing import Any

from dativo_runner.plugins.base import SourceCheck

# Row versions of transactions older than the mark: xmin below it, in 32-bit wrap-around order
# (0, 1 and 2 are PostgreSQL's bootstrap and frozen ids, older than everything).
_OLD_XMIN = (
    "(xmin::text::bigint < 3 OR "
    "((%(mark32)s - xmin::text::bigint + 4294967296) %% 4294967296) BETWEEN 1 AND 2147483647)"
)
_WITHIN = 1 << 30  # the server's counter may be at most this far past the mark
_MARGIN_DAYS = 1  # the window checked is wider than the tap's by this much
_LIBPQ = {
    "ssl_mode": "sslmode",
    "ssl_ca_file": "sslrootcert",
    "ssl_cert_file": "sslcert",
    "ssl_key_file": "sslkey",
}


def _window_start(schema: dict[str, Any], days: int) -> str | None:
    """SQL of the window's lower bound (``%(bookmark)s`` is the bookmark) for the cursor's JSON
    Schema; None for a type this check does not compare (the pipe then runs)."""
    types = schema.get("type")
    types = {types} if isinstance(types, str) else set(types or ())
    fmt = schema.get("format")
    if fmt == "date-time":
        return f"(%(bookmark)s::timestamptz - interval '{days + _MARGIN_DAYS} days')"
    if fmt == "date":
        return f"(%(bookmark)s::date - {days + _MARGIN_DAYS})"
    if not days and types & {"integer", "number"}:
        return "%(bookmark)s::numeric"
    return None


def _stream(catalog: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """(stream, cursor column, cursor's schema) of the catalog's one incremental stream."""
    streams = catalog.get("streams") or []
    if len(streams) != 1:
        return None
    entry = streams[0]
    metadata = entry.get("metadata") or []
    top: dict[str, Any] = next((m["metadata"] for m in metadata if not m.get("breadcrumb")), {})
    key = top.get("replication-key")
    if top.get("replication-method") != "INCREMENTAL" or not key:
        return None
    properties = (entry.get("schema") or {}).get("properties") or {}
    return str(entry["tap_stream_id"]), str(key), properties.get(key) or {}


def _connect(config: dict[str, Any]) -> Any:
    import psycopg2

    params = {_LIBPQ[k]: v for k, v in config.items() if k in _LIBPQ and v}
    return psycopg2.connect(
        host=config["host"],
        port=int(config.get("port") or 5432),
        user=config["user"],
        password=config.get("password") or None,
        dbname=config["database"],
        connect_timeout=10,
        options="-c TimeZone=UTC -c default_transaction_read_only=on",
        application_name="dativo-check",
        **params,
    )


def check_postgres(
    config: dict[str, Any], catalog: dict[str, Any], state: dict[str, Any] | None, kept: dict[str, Any] | None
) -> SourceCheck:
    """Nothing new when every row of the window is older than ``kept``; with a new mark either
    way. Unsure (not nothing new, no mark) for what it cannot ask: a URL-only connection, a
    full-table read, a cursor type it does not compare, a server it cannot reach."""
    found = _stream(catalog)
    tables = config.get("tables") or {}
    if found is None or config.get("sqlalchemy_url") or not config.get("host"):
        return SourceCheck(False)
    stream, key, key_schema = found
    bookmark = (((state or {}).get("bookmarks") or {}).get(stream) or {}).get("replication_key_value")
    start = _window_start(key_schema, int(config.get("lookback_days") or 0))
    table = str(tables.get(stream) or "")
    if not table or start is None:
        return SourceCheck(False)
    schema, _, name = table.rpartition(".")  # as the tap reads it: unqualified on the search path
    relation = f"{_quote(schema)}.{_quote(name)}" if schema else _quote(name)
    import psycopg2

    try:
        connection = _connect(config)
    except (psycopg2.Error, ValueError):  # unreachable, refused, a bad port: the tap reports it
        return SourceCheck(False)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT txid_snapshot_xmin(txid_current_snapshot()), "
                "(SELECT oid FROM pg_database WHERE datname = current_database()), %s::regclass::oid",
                (relation,),
            )
            horizon, database, relid = cursor.fetchone()
            mark = {"xmin": int(horizon), "database": int(database), "table": int(relid)}
            if not _usable(kept, mark) or bookmark is None or kept is None:
                return SourceCheck(False, mark)
            cursor.execute(
                f"SELECT EXISTS (SELECT 1 FROM {relation} WHERE {_quote(key)} >= {start} "
                f"AND NOT {_OLD_XMIN})",
                {"bookmark": str(bookmark), "mark32": int(kept["xmin"]) % (1 << 32)},
            )
            changed = bool(cursor.fetchone()[0])
            return SourceCheck(not changed, mark)
    except (psycopg2.Error, ValueError):  # a missing table or column, a bookmark that does not cast
        return SourceCheck(False)
    finally:
        connection.close()


def _usable(kept: dict[str, Any] | None, now: dict[str, Any]) -> bool:
    """A kept mark of the same database and table whose id the server's counter has not left
    behind by 2^30 or more (nor gone back from)."""
    if not kept or kept.get("database") != now["database"] or kept.get("table") != now["table"]:
        return False
    xmin = kept.get("xmin")
    return isinstance(xmin, int) and 0 <= now["xmin"] - xmin < _WITHIN


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
