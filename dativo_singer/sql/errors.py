"""Driver errors → one line naming the setting at fault (never the password), fatal or retriable.

Classification happens here only: psycopg2, PyMySQL, ADBC and connectorx messages are matched by
their documented text (SQLSTATE / MySQL error numbers appear in them)."""

from __future__ import annotations

import re
from typing import Any

from dativo_singer.errors import DativoSingerError, FatalError, RetriableError
from dativo_singer.sql.settings import Connection, redact

_AUTH = re.compile(
    r"password authentication failed|authentication failed|Access denied for user|\b1045\b|"
    r"no password supplied|28P01|28000",
    re.I,
)
_HOST = re.compile(
    r"could not translate host name|Name or service not known|nodename nor servname|"
    r"Temporary failure in name resolution|getaddrinfo|failed to lookup address|No address associated",
    re.I,
)
_DATABASE = re.compile(r'database "[^"]*" does not exist|Unknown database|\b1049\b|3D000', re.I)
# A connection ended mid-read: the server terminated or killed it (pg_terminate_backend, KILL),
# or it dropped; connectorx reports a killed MySQL stream as a codec IO error.
_DROPPED = re.compile(
    r"terminating connection|server closed the connection|Lost connection|bytes remaining on stream|"
    r"IO error|Connection reset|Broken pipe|\b2013\b|57P01",
    re.I,
)
# Refused outright: nothing listens there (a wrong host or port), not a transient failure.
_NO_LISTENER = re.compile(r"Connection refused|\[Errno 111\]|\b10061\b", re.I)
_REFUSED = re.compile(
    r"Connection refused|Can't connect to|could not connect|timed out|timeout expired|"
    r"server closed the connection|Lost connection|\b2003\b|\b2013\b",
    re.I,
)


def classify(exc: BaseException, connection: Connection, config: dict[str, Any]) -> DativoSingerError:
    """The error to raise for a failure talking to the database."""
    if isinstance(exc, DativoSingerError):
        return exc
    text = str(getattr(exc, "orig", None) or exc)
    url = connection.url
    where = f"{url.host}:{url.port}"
    if _AUTH.search(text):
        return FatalError(
            f"password: authentication failed for user {url.username!r} on {where} (check user and password)"
        )
    if _HOST.search(text):
        return FatalError(f"host: cannot resolve {url.host!r}")
    if _DATABASE.search(text):
        return FatalError(f"database: {url.database!r} does not exist on {where}")
    if _DROPPED.search(text):
        return RetriableError(f"{where}: connection lost: {_first_line(redact(text, config))}")
    if _NO_LISTENER.search(text):
        return FatalError(
            f"host/port: nothing accepts connections on {where} (connection refused): check host and port"
        )
    if _REFUSED.search(text):
        return RetriableError(f"host/port: cannot connect to {where}: {_first_line(redact(text, config))}")
    return FatalError(f"{where}/{url.database}: {_first_line(redact(text, config))}")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "error"
