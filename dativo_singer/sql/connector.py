"""DatabaseConnector: connection, discovery and column kinds for a database tap.

Subclasses name the SQLAlchemy driver, the dialect, the default port, the schemas discovery
skips, and how the fast path reads Arrow (``arrow_batches``)."""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa
from singer_sdk.sql import SQLConnector

from dativo_singer.errors import FatalError
from dativo_singer.sdk_internals import connector_dialect, connector_engine
from dativo_singer.sql import types as k
from dativo_singer.sql.dialect import SqlDialect
from dativo_singer.sql.errors import classify
from dativo_singer.sql.settings import Connection, connection_of

if TYPE_CHECKING:
    from singer_sdk.singerlib import CatalogEntry
    from sqlalchemy.engine import reflection

    from dativo_singer.sql.stream import DatabaseStream

logger = logging.getLogger(__name__)


class DatabaseConnector(SQLConnector):
    """A PostgreSQL or MySQL/MariaDB connection, as a singer-sdk SQL connector."""

    drivername: str
    default_port: int
    dialect: SqlDialect
    system_schemas: tuple[str, ...] = ()

    def __init__(self, config: dict | None = None, sqlalchemy_url: str | None = None) -> None:
        super().__init__(config, sqlalchemy_url)
        self._warned: set[str] = set()

    @cached_property
    def connection_settings(self) -> Connection:
        """Where to connect (from host/port/... or sqlalchemy_url)."""
        return connection_of(self.config, self.drivername, self.default_port)

    def get_sqlalchemy_url(self, config: dict[str, Any]) -> str:
        """The SQLAlchemy URL (password included: it never leaves the process)."""
        return self.connection_settings.url.render_as_string(hide_password=False)

    def connect_args(self) -> dict[str, Any]:
        """Driver arguments: TLS files and session settings."""
        return {}

    def create_engine(self) -> sa.Engine:
        """An engine with the driver arguments, checked by one connection."""
        return sa.create_engine(
            self.connection_settings.url, connect_args=self.connect_args(), pool_pre_ping=True
        )

    @contextmanager
    def guarded(self) -> Iterator[None]:
        """Driver errors inside become one classified line (see ``errors.classify``)."""
        try:
            yield
        except (sa.exc.SQLAlchemyError, OSError, RuntimeError, pa.ArrowException) as exc:
            raise classify(exc, self.connection_settings, self.config) from None
        except BaseException as exc:  # driver-specific errors (ADBC, PyMySQL, connectorx panics)
            # A connectorx panic (pyo3_runtime.PanicException, e.g. its connection killed mid-read)
            # derives from BaseException, not Exception: without this it ended the tap with a traceback.
            if type(exc).__module__.split(".")[0] in ("adbc_driver_manager", "pyo3_runtime", "pymysql"):
                raise classify(exc, self.connection_settings, self.config) from None
            raise

    @abstractmethod
    def arrow_batches(self, sql: str) -> Iterator[pa.RecordBatch]:
        """Record batches of ``sql`` from the fast-path driver."""

    def arrow_reader_problem(self, columns: dict[str, k.ColumnKind]) -> str | None:
        """Why the Arrow reader cannot read these columns over this connection exactly as the
        RECORD path's driver does (the RECORD path then reads row by row through SQLAlchemy);
        None when it can. Query parameters of a ``sqlalchemy_url`` reach only SQLAlchemy's driver."""
        if self.connection_settings.url.query:
            return "sqlalchemy_url query parameters"
        return None

    def json_columns(self, schema: str | None, table: str) -> set[str]:
        """Columns holding JSON that reflection sees as text (MariaDB's JSON is LONGTEXT)."""
        return set()

    # Types and discovery

    def kind_of(self, type_: sa.types.TypeEngine, where: str) -> k.ColumnKind:
        """The column's kind; an unmapped type is named once in a warning."""
        kind = k.column_kind(type_, connector_dialect(self))
        if kind.kind == k.UNMAPPED and kind.type_text not in self._warned:
            self._warned.add(kind.type_text)
            logger.warning(
                "column %s has type %r, which has no mapping: its values are read as the "
                "database's text form of them (docs/DATABASES.md)",
                where,
                kind.type_text,
            )
        return kind

    def to_jsonschema_type(self, sql_type: Any) -> dict:
        """JSON Schema of a reflected column type (nullability is added by discovery)."""
        if isinstance(sql_type, _KindType):
            return sql_type.kind.json_schema()
        if isinstance(sql_type, sa.types.TypeEngine):
            return k.column_kind(sql_type, connector_dialect(self)).json_schema()
        return super().to_jsonschema_type(sql_type)

    def get_schema_names(self, engine: sa.Engine, inspected: reflection.Inspector) -> list[str]:
        """Schemas to discover: ``filter_schemas``, else every non-system schema."""
        wanted = self.config.get("filter_schemas")
        names = inspected.get_schema_names()
        if wanted:
            return [name for name in names if name in wanted]
        return [name for name in names if name not in self.system_schemas]

    def discover_catalog_entries(self, **kwargs: Any) -> list[dict]:
        """Discovery, with connection failures reported as one line."""
        with self.guarded():
            return super().discover_catalog_entries(**kwargs)

    def discover_catalog_entry(
        self,
        engine: sa.Engine,
        inspected: reflection.Inspector,
        schema_name: str | None,
        table_name: str,
        is_view: bool,
        **kwargs: Any,
    ) -> CatalogEntry:
        """The SDK's entry, with columns typed by kind and replication-key candidates listed."""
        columns = kwargs.get("reflected_columns") or []
        for column in columns:
            column["name"] = self.reflected_name(column["name"])
        json_columns = self.json_columns(schema_name, table_name)
        for column in columns:
            if column["name"] in json_columns:
                column["type"] = sa.JSON()
            kind = self.kind_of(column["type"], f"{schema_name}.{table_name}.{column['name']}")
            column["type"] = _KindType(kind)
        entry = super().discover_catalog_entry(engine, inspected, schema_name, table_name, is_view, **kwargs)
        candidates = [c["name"] for c in columns if c["type"].kind.kind in k.REPLICATION_KEY_KINDS]
        entry.metadata.root.valid_replication_keys = candidates or None
        for metadata in entry.metadata.values():  # as singer-sdk's own streams: all selected
            metadata.selected_by_default = True
        # singer-sdk fills both with "" (no method forced): leave them out rather than empty.
        entry.replication_method = entry.replication_method or None
        entry.metadata.root.forced_replication_method = entry.metadata.root.forced_replication_method or None
        return entry

    def reflect(self, schema: str | None, table: str) -> dict[str, sa.types.TypeEngine]:
        """Column name → reflected type of a table or view (FatalError naming it if missing)."""
        with self.guarded():
            inspected = sa.inspect(connector_engine(self))
            try:
                columns = inspected.get_columns(table, schema=schema)
            except sa.exc.NoSuchTableError:
                columns = []
        if not columns:
            label = f"{schema}.{table}" if schema else table
            raise FatalError(
                f"table {label!r} does not exist in database {self.connection_settings.url.database!r}"
            )
        json_columns = self.json_columns(schema, table)
        names = [self.reflected_name(c["name"]) for c in columns]
        return {n: sa.JSON() if n in json_columns else c["type"] for n, c in zip(names, columns, strict=True)}

    def reflected_name(self, name: str) -> str:
        """A column name as the database knows it: SQLAlchemy's MySQL/MariaDB reflection (which
        parses SHOW CREATE TABLE) leaves a backtick in a name doubled."""
        mysql = connector_engine(self).dialect.name in ("mysql", "mariadb")
        return name.replace("``", "`") if mysql else name

    def prepare_stream(self, stream: DatabaseStream) -> dict[str, k.ColumnKind]:
        """Kinds of the stream's selected columns, after checking the table has them all and
        that the replication key (and ``lookback_days``) fit it."""
        schema, table = stream.location()
        label = stream.table_label()
        reflected = self.reflect(schema, table)
        properties = stream.get_selected_schema().get("properties", {})
        selected = [name for name in properties if not name.startswith("_sdc_")]
        key = stream.replication_key
        if key and key not in reflected:
            raise FatalError(f"table {label!r} has no replication key column {key!r}")
        missing = [name for name in selected if name not in reflected]
        if missing:
            raise FatalError(f"table {label!r} has no column {missing[0]!r} (stream {stream.name!r})")
        if key and key not in selected:
            selected.append(key)
        kinds = {name: self.kind_of(reflected[name], f"{label}.{name}") for name in selected}
        if key and kinds[key].kind not in k.REPLICATION_KEY_KINDS:
            raise FatalError(
                f"table {label!r}: replication key {key!r} has type {kinds[key].type_text!r}, "
                "which cannot be a bookmark"
            )
        if key and stream.config.get("lookback_days") and kinds[key].kind not in k.TEMPORAL_KINDS:
            raise FatalError(
                f"lookback_days: replication key {key!r} of table {label!r} is not a date or timestamp"
            )
        return kinds

    def window_kind(self, stream: DatabaseStream, column: str) -> k.ColumnKind:
        """The kind of ``row_window``'s column, which must be a date or timestamp of the table."""
        label = stream.table_label()
        reflected = self.reflect(*stream.location())
        if column not in reflected:
            raise FatalError(f"row_window.column: table {label!r} has no column {column!r}")
        kind = self.kind_of(reflected[column], f"{label}.{column}")
        if kind.kind not in k.TEMPORAL_KINDS:
            raise FatalError(f"row_window.column: {column!r} of table {label!r} is not a date or timestamp")
        return kind


class _KindType(sa.types.TypeDecorator):
    """A reflected column type carried with its kind through singer-sdk's discovery."""

    impl = sa.types.NullType
    cache_ok = True

    def __init__(self, kind: k.ColumnKind) -> None:
        super().__init__()
        self.kind = kind
