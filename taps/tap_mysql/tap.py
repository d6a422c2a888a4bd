"""TapMySQL: the connector, stream and tap classes, and the `tap-mysql` console script."""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import sqlalchemy as sa
from singer_sdk.helpers.capabilities import CapabilitiesEnum, TapCapabilities
from singer_sdk.singerlib import Schema
from singer_sdk.singerlib.catalog import REPLICATION_LOG_BASED

from dativo_singer.batch_emit import ParquetBatchWriter
from dativo_singer.cli import run_tap_cli
from dativo_singer.errors import FatalError
from dativo_singer.sdk_internals import connector_engine, stream_tap, write_record_message
from dativo_singer.sql import types as k
from dativo_singer.sql.arrow_columns import convert_batch, stream_arrow_schema
from dativo_singer.sql.arrow_readers import connectorx_batches
from dativo_singer.sql.connector import DatabaseConnector
from dativo_singer.sql.dialect import MySQLDialect
from dativo_singer.sql.settings import connection_properties
from dativo_singer.sql.stream import DatabaseStream
from dativo_singer.sql.tap import DatabaseTap
from dativo_singer.tap_policy import tap_policies
from tap_mysql.log_stream import DELETED_AT, LOG_PROPERTIES, LSN, LogReader

if TYPE_CHECKING:
    from dativo_singer.sdk_internals import BaseBatchFileEncoding, BatchConfig

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
    """A MySQL/MariaDB table or view (schema = database); ``LOG_BASED``: a snapshot, then the
    row-based binlog (``log_stream``)."""

    connector_class = MySQLConnector

    @property
    def log_based(self) -> bool:
        """The catalog asks for singer-sdk's ``LOG_BASED`` replication."""
        return self.replication_method == REPLICATION_LOG_BASED

    def prepare(self) -> None:
        """A log-based stream: the table's columns, then ``_sdc_lsn`` as the bookmark and the
        log's two columns in the schema (docs/CDC.md); the server and the table checked."""
        if not self.log_based:
            super().prepare()
            return
        self.replication_key = None
        super().prepare()
        self.replication_key = LSN
        self._log_end = LogReader(self).check()

    def _sql(self, context: Any) -> str:
        if not self.log_based:
            return super()._sql(context)
        return self.db.dialect.query(*self.location(), self.columns, None, None)

    def sync_records(self, context: Any = None, *, write_messages: bool = True) -> Generator[dict, Any, Any]:
        """A log-based stream writes its own messages (snapshot rows, then changes)."""
        if not self.log_based or not write_messages:
            yield from super().sync_records(context, write_messages=write_messages)
            return
        reader = LogReader(self)
        if not reader.snapshot_done():
            with reader.locked_snapshot() as position:
                for record in super().get_records(context):
                    write_record_message(self, {**record, LSN: position.lsn, DELETED_AT: None})
            reader.mark(position, snapshot_done=True)
            self.write_state_message()
        reader.changes(self._log_end)

    def get_batches(
        self, batch_config: BatchConfig, context: Any = None
    ) -> Iterable[tuple[BaseBatchFileEncoding, list[str]]]:
        """A log-based stream's snapshot as Parquet files (each with ``_sdc_lsn``), then its
        changes as RECORD messages."""
        if not self.log_based:
            yield from super().get_batches(batch_config, context)
            return
        reader = LogReader(self)
        if not reader.snapshot_done():
            with reader.locked_snapshot() as position:
                tables = (reader.snapshot_columns(t, position) for t in self.snapshot_tables())
                writer = ParquetBatchWriter(
                    batch_config,
                    tap_name=self.tap_name,
                    stream_name=self.name,
                    policies=tap_policies(stream_tap(self)),
                )
                yield from writer.manifests(tables)
            reader.mark(position, snapshot_done=True)
            self.write_state_message()
        reader.changes(self._log_end)

    def snapshot_tables(self) -> Iterator[pa.Table]:
        """The whole table, converted to the stream's types, in files of ``batch_size`` rows."""
        sql = self._sql(None)
        properties = {
            k: v for k, v in (self.schema.get("properties") or {}).items() if k not in LOG_PROPERTIES
        }
        schema = stream_arrow_schema(properties, self.columns)
        label = self.table_label()
        with self.db.guarded():
            for batch in self.db.arrow_batches(sql):
                yield convert_batch(batch, schema, self.columns, label)


class TapMySQL(DatabaseTap):
    """MySQL 8 and MariaDB 10.11 tables and views (`--discover` lists every non-system database)."""

    name = "tap-mysql"
    capabilities: ClassVar[list[CapabilitiesEnum]] = [*DatabaseTap.capabilities, TapCapabilities.LOG_BASED]
    config_jsonschema = connection_properties(MySQLConnector.default_port).to_dict()
    default_stream_class = MySQLStream

    def setup_mapper(self) -> None:
        """The log's two columns and the ``_sdc_lsn`` bookmark in every ``LOG_BASED`` entry of
        the input catalog, before the stream maps (and so the SCHEMA messages) are made of it."""
        for entry in (self.input_catalog or {}).values():
            root = entry.metadata.root
            if REPLICATION_LOG_BASED in (entry.replication_method, root.forced_replication_method):
                entry.replication_method = REPLICATION_LOG_BASED
                entry.replication_key = LSN
                properties = entry.schema.properties if entry.schema.properties is not None else {}
                for name, prop in LOG_PROPERTIES.items():
                    properties[name] = Schema.from_dict(prop)
                entry.schema.properties = properties
        super().setup_mapper()


def main() -> None:
    """Console script `tap-mysql`."""
    run_tap_cli("tap-mysql", TapMySQL)
