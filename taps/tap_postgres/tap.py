"""TapPostgres: the connector, stream and tap classes, and the `tap-postgres` console script."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import CapabilitiesEnum, TapCapabilities

from dativo_singer.cli import run_tap_cli
from dativo_singer.sql.arrow_readers import adbc_postgres_batches
from dativo_singer.sql.connector import DatabaseConnector
from dativo_singer.sql.dialect import PostgresDialect
from dativo_singer.sql.settings import connection_properties
from dativo_singer.sql.stream import DatabaseStream
from dativo_singer.sql.tap import DatabaseTap
from tap_postgres.slot_defaults import DEFAULT_LAG_WARNING_BYTES, DEFAULT_PUBLICATION, DEFAULT_SLOT

if TYPE_CHECKING:
    from tap_postgres.log_reader import PostgresChangeLog

# Every session reads timestamps in UTC (timestamp without time zone values are taken as UTC).
SESSION_OPTIONS = "-c TimeZone=UTC"


class PostgresConnector(DatabaseConnector):
    """PostgreSQL through psycopg2 (RECORD path) and ADBC (fast path)."""

    drivername = "postgresql+psycopg2"
    default_port = 5432
    dialect = PostgresDialect()
    system_schemas = ("information_schema", "pg_catalog", "pg_toast")

    def _libpq_params(self) -> dict[str, str]:
        settings = self.connection_settings
        params = {
            "sslmode": settings.ssl_mode,
            "sslrootcert": settings.ssl_ca_file,
            "sslcert": settings.ssl_cert_file,
            "sslkey": settings.ssl_key_file,
        }
        return {key: value for key, value in params.items() if value}

    def connect_args(self) -> dict[str, Any]:
        """libpq parameters: TLS, UTC session, a connect timeout."""
        return {
            **self._libpq_params(),
            "options": SESSION_OPTIONS,
            "connect_timeout": 10,
            "application_name": "tap-postgres",
        }

    def arrow_batches(self, sql: str) -> Iterator[pa.RecordBatch]:
        """ADBC: COPY in binary, decoded into Arrow in C++."""
        uri = self.connection_settings.native_uri(
            "postgresql",
            {**self._libpq_params(), "options": SESSION_OPTIONS, "connect_timeout": "10"},
        )
        return adbc_postgres_batches(uri, sql)

    def change_log(self) -> PostgresChangeLog:
        """The replication slot LOG_BASED streams are read from (``pgoutput``)."""
        from tap_postgres.log_reader import PostgresChangeLog  # LOG_BASED streams alone load it

        return PostgresChangeLog(self)


class PostgresStream(DatabaseStream):
    """A PostgreSQL table or view."""

    connector_class = PostgresConnector
    supports_nulls_first = True


class TapPostgres(DatabaseTap):
    """PostgreSQL tables and views (`--discover` lists every non-system schema)."""

    name = "tap-postgres"
    package_name = "dativo-tap-postgres"  # its distribution: --version
    config_jsonschema = th.PropertiesList(
        *connection_properties(PostgresConnector.default_port),
        th.Property(
            "replication_slot",
            th.StringType,
            default=DEFAULT_SLOT,
            description="LOG_BASED streams: the logical replication slot (pgoutput) read, created "
            "when missing; confirmed only up to what the target committed (docs/CDC.md)",
        ),
        th.Property(
            "publication",
            th.StringType,
            default=DEFAULT_PUBLICATION,
            description="LOG_BASED streams: the publication of their tables, created when missing "
            "(it must publish every LOG_BASED table)",
        ),
        th.Property(
            "slot_lag_warning_bytes",
            th.IntegerType,
            default=DEFAULT_LAG_WARNING_BYTES,
            description="LOG_BASED streams: warn when the slot keeps more WAL than this on the server",
        ),
    ).to_dict()
    capabilities: ClassVar[list[CapabilitiesEnum]] = [*DatabaseTap.capabilities, TapCapabilities.LOG_BASED]
    default_stream_class = PostgresStream


def main() -> None:
    """Console script `tap-postgres`."""
    run_tap_cli("tap-postgres", TapPostgres)
