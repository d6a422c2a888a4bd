"""TapMySQL: the connector, stream and tap classes, and the `tap-mysql` console script."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

import pyarrow as pa
import sqlalchemy as sa
from singer_sdk.helpers.capabilities import CapabilitiesEnum, TapCapabilities

from dativo_singer.cli import run_tap_cli
from dativo_singer.errors import FatalError
from dativo_singer.sdk_internals import connector_engine
from dativo_singer.sql import types as k
from dativo_singer.sql.arrow_readers import connectorx_batches
from dativo_singer.sql.connector import DatabaseConnector
from dativo_singer.sql.dialect import MySQLDialect
from dativo_singer.sql.settings import connection_properties
from dativo_singer.sql.stream import DatabaseStream
from dativo_singer.sql.tap import DatabaseTap
from tap_mysql.change_log import MySQLChangeLog

_JSON_CHECK = re.compile(r"json_valid\(`((?:[^`]|``)+)`\)", re.I)
_TLS_MODES = ("require", "verify-ca", "verify-full")


class MySQLConnector(DatabaseConnector):
    """MySQL/MariaDB through PyMySQL (RECORD path) and connectorx (fast path)."""

    drivername = "mysql+pymysql"
    default_port = 3306
    dialect = MySQLDialect()
    system_schemas = ("information_schema", "mysql", "performance_schema", "sys")

    def connect_args(self) -> dict[str, Any]:
        """PyMySQL arguments: TLS files and modes, utf8mb4, a connect timeout."""
        settings = self.connection_settings
        args: dict[str, Any] = {"connect_timeout": 10, "charset": "utf8mb4"}
        if settings.ssl_mode == "disable":
            args["ssl_disabled"] = True
        elif settings.ssl_mode in _TLS_MODES or settings.ssl_ca_file:
            args["ssl"] = {
                key: value
                for key, value in (
                    ("ca", settings.ssl_ca_file),
                    ("cert", settings.ssl_cert_file),
                    ("key", settings.ssl_key_file),
                )
                if value
            } or {"fake_flag_to_enable_tls": True}
            args["ssl_verify_cert"] = settings.ssl_mode in ("verify-ca", "verify-full")
            args["ssl_verify_identity"] = settings.ssl_mode == "verify-full"
        return args

    def arrow_batches(self, sql: str) -> Iterator[pa.RecordBatch]:
        """connectorx: the binary protocol decoded into Arrow in Rust."""
        if self.connection_settings.ssl_mode in _TLS_MODES:
            raise FatalError(
                "ssl_mode: the Parquet fast path of tap-mysql (connectorx) reads without TLS; "
                "drop batch_config to read over TLS"
            )
        return connectorx_batches(self.connection_settings.native_uri("mysql"), sql)

    def arrow_reader_problem(self, columns: dict[str, k.ColumnKind]) -> str | None:
        """connectorx reads without TLS: such streams' RECORDs are read row by row."""
        if self.connection_settings.ssl_mode in _TLS_MODES:
            return "TLS"
        return super().arrow_reader_problem(columns)

    def change_log(self) -> MySQLChangeLog:
        """The row-based binlog LOG_BASED streams are read from."""
        return MySQLChangeLog(self)

    def json_columns(self, schema: str | None, table: str) -> set[str]:
        """MariaDB's JSON columns: LONGTEXT with a ``json_valid`` check constraint."""
        query = sa.text(
            "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :table"
        )
        try:
            with connector_engine(self).connect() as connection:
                clauses = connection.execute(query, {"schema": schema, "table": table}).scalars().all()
        except sa.exc.ProgrammingError:  # MySQL before 8.0.16 has no CHECK_CONSTRAINTS
            return set()
        return {m.replace("``", "`") for clause in clauses for m in _JSON_CHECK.findall(clause)}


class MySQLStream(DatabaseStream):
    """A MySQL/MariaDB table or view (schema = database)."""

    connector_class = MySQLConnector


class TapMySQL(DatabaseTap):
    """MySQL 8 and MariaDB 10.11 tables and views (`--discover` lists every non-system database);
    ``LOG_BASED`` streams read the row-based binlog (docs/CDC.md)."""

    name = "tap-mysql"
    package_name = "dativo-tap-mysql"  # its distribution: --version
    capabilities: ClassVar[list[CapabilitiesEnum]] = [*DatabaseTap.capabilities, TapCapabilities.LOG_BASED]
    config_jsonschema = connection_properties(MySQLConnector.default_port).to_dict()
    default_stream_class = MySQLStream


def main() -> None:
    """Console script `tap-mysql`."""
    run_tap_cli("tap-mysql", TapMySQL)
