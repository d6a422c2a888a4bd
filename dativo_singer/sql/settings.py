"""Connection settings shared by tap-postgres and tap-mysql (the MeltanoLabs taps' names), and the
URLs each driver is given."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from singer_sdk import typing as th

from dativo_singer.errors import FatalError

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def connection_properties(default_port: int) -> th.PropertiesList:
    """The settings of a database tap (singer-sdk adds batch_config, stream_maps, flattening)."""
    return th.PropertiesList(
        th.Property("host", th.StringType, description="Server host name or address"),
        th.Property("port", th.IntegerType, default=default_port, description="Server port"),
        th.Property("user", th.StringType, description="User name"),
        th.Property("password", th.StringType, secret=True, description="Password"),
        th.Property("database", th.StringType, description="Database name"),
        th.Property(
            "sqlalchemy_url",
            th.StringType,
            secret=True,
            description="A SQLAlchemy URL instead of host/port/user/password/database",
        ),
        th.Property(
            "ssl_mode",
            th.StringType,
            allowed_values=list(SSL_MODES),
            description="TLS: disable, allow, prefer, require, verify-ca or verify-full",
        ),
        th.Property("ssl_ca_file", th.StringType, description="CA certificate file (PEM)"),
        th.Property("ssl_cert_file", th.StringType, description="Client certificate file (PEM)"),
        th.Property("ssl_key_file", th.StringType, description="Client private key file (PEM)"),
        th.Property(
            "filter_schemas",
            th.ArrayType(th.StringType),
            description="Discover only these schemas (MySQL: databases)",
        ),
        th.Property(
            "tables",
            th.ObjectType(additional_properties=th.StringType),
            description="Stream name → [schema.]table, for catalogs whose streams carry no table "
            "metadata (a stream not listed reads the table of its own name)",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="First replication-key value read when there is no bookmark (temporal keys)",
        ),
        th.Property(
            "lookback_days",
            th.IntegerType,
            description="Re-read this many days before the bookmark (date/timestamp replication keys)",
        ),
        th.Property(
            "row_filter",
            th.StringType,
            description="A SQL condition the rows read must meet, added to every stream's query as "
            "WHERE (condition): one slice of a table (a partitioned job's where)",
        ),
        th.Property(
            "row_window",
            th.ObjectType(
                th.Property("column", th.StringType, required=True),
                th.Property("start", th.StringType, required=True),
                th.Property("end", th.StringType, required=True),
            ),
            description="Only rows whose date/timestamp column is at or after start and before end "
            "(ISO dates or timestamps, sent as quoted literals): one time window of a table",
        ),
    )


@dataclass(frozen=True)
class Connection:
    """Where to connect, as given (for messages that name the setting and never the password)."""

    url: sa.URL
    ssl_mode: str | None
    ssl_ca_file: str | None
    ssl_cert_file: str | None
    ssl_key_file: str | None

    def native_uri(self, scheme: str, extra: dict[str, str] | None = None) -> str:
        """The libpq/connectorx URI of this connection (``scheme://user:pw@host:port/db?...``)."""
        auth = quote(self.url.username or "", safe="")
        if self.url.password:
            auth += ":" + quote(str(self.url.password), safe="")
        netloc = f"{auth}@{self.url.host or ''}" + (f":{self.url.port}" if self.url.port else "")
        query = urlencode(extra or {}, quote_via=quote)
        database = quote(self.url.database or "", safe="")
        return f"{scheme}://{netloc}/{database}" + (f"?{query}" if query else "")


def connection_of(config: dict[str, Any], drivername: str, default_port: int) -> Connection:
    """The connection a tap's config describes; ``sqlalchemy_url`` wins over the separate fields."""
    if config.get("sqlalchemy_url"):
        try:
            url = sa.engine.make_url(config["sqlalchemy_url"])
        except sa.exc.ArgumentError:
            raise FatalError("sqlalchemy_url: is not a SQLAlchemy URL") from None
        url = url.set(drivername=drivername)
    else:
        missing = [key for key in ("host", "user", "database") if not config.get(key)]
        if missing:
            raise FatalError(f"{missing[0]}: is required (or give sqlalchemy_url)")
        url = sa.URL.create(
            drivername,
            username=config["user"],
            password=config.get("password") or None,
            host=config["host"],
            port=int(config.get("port") or default_port),
            database=config["database"],
        )
    return Connection(
        url=url,
        ssl_mode=config.get("ssl_mode"),
        ssl_ca_file=config.get("ssl_ca_file"),
        ssl_cert_file=config.get("ssl_cert_file"),
        ssl_key_file=config.get("ssl_key_file"),
    )


def redact(text: str, config: dict[str, Any]) -> str:
    """``text`` with the password (and the password of sqlalchemy_url) replaced by ``***``."""
    secrets = [config.get("password")]
    if config.get("sqlalchemy_url"):
        try:
            secrets.append(sa.engine.make_url(config["sqlalchemy_url"]).password)
        except sa.exc.ArgumentError:
            secrets.append(config["sqlalchemy_url"])
    for secret in secrets:
        if secret:
            text = text.replace(str(secret), "***").replace(quote(str(secret), safe=""), "***")
    return text
