"""The embedded catalog's everyday operations on ``sqlite3`` alone.

pyiceberg's SQL catalog reaches SQLite through SQLAlchemy and its ORM, whose import is a third of
a small run's target start-up. The target's write path needs only a few of its operations: load
a table, commit to it, create a namespace or a table, read namespace properties. This catalog
runs those on the same two tables with the same statements and the same conflict rules
(pyiceberg 0.12, ``pyiceberg/catalog/sql.py``: a commit updates the table's row only where it
still holds the metadata the commit started from, else ``CommitFailedException``); every other
operation is handed to pyiceberg's own ``SqlCatalog`` on the same file, opened on first use.
A new catalog file gets pyiceberg's v1 tables with the statements SQLAlchemy issues for them
(``create_tables``); a file with the older v0 tables is left to pyiceberg.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from pyiceberg.catalog import Catalog, MetastoreCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.io import load_file_io
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionSpec
from pyiceberg.serializers import FromInputFile
from pyiceberg.table import CommitTableResponse, Table, TableProperties
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import new_table_metadata
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER, SortOrder
from pyiceberg.typedef import EMPTY_DICT, Identifier, Properties

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import PropertiesUpdateSummary
    from pyiceberg.schema import Schema
    from pyiceberg.table.update import TableRequirement, TableUpdate
    from pyiceberg.view import View

_TABLE_ROWS = "iceberg_type = 'TABLE' OR iceberg_type IS NULL"  # not views
_MINIMAL_NAMESPACE_PROPERTIES = {"exists": "true"}
# Where a namespace appears: its tables' rows and its property rows.
_NAMESPACE_COLUMNS = (("iceberg_tables", "table_namespace"), ("iceberg_namespace_properties", "namespace"))
# Where a namespace appears: its tables' rows and its property rows.
_NAMESPACE_COLUMNS = (("iceberg_tables", "table_namespace"), ("iceberg_namespace_properties", "namespace"))


# pyiceberg's v1 catalog tables, as SQLAlchemy creates them on SQLite (``IF NOT EXISTS`` added:
# two processes creating them at once both carry on).
_CREATE_TABLES = (
    "CREATE TABLE IF NOT EXISTS iceberg_tables (\n\tcatalog_name VARCHAR(255) NOT NULL, "
    "\n\ttable_namespace VARCHAR(255) NOT NULL, \n\ttable_name VARCHAR(255) NOT NULL, "
    "\n\tmetadata_location VARCHAR(1000), \n\tprevious_metadata_location VARCHAR(1000), "
    "\n\ticeberg_type VARCHAR(5), \n\tPRIMARY KEY (catalog_name, table_namespace, table_name)\n)",
    "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (\n\tcatalog_name VARCHAR(255) NOT NULL, "
    "\n\tnamespace VARCHAR(255) NOT NULL, \n\tproperty_key VARCHAR(255) NOT NULL, "
    "\n\tproperty_value VARCHAR(1000) NOT NULL, \n\tPRIMARY KEY (catalog_name, namespace, property_key)\n)",
)


def sqlite_file(uri: str) -> Path | None:
    """The file of a ``sqlite:///<path>`` catalog URI (None for any other URI)."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]) if uri.startswith(prefix) and len(uri) > len(prefix) else None


def ready_for_sqlite3(path: Path) -> bool:
    """True when ``path`` holds pyiceberg's catalog tables in their v1 form, after creating them
    in a new or empty file; False for anything else (the v0 form, a file that is not SQLite)."""
    try:
        with closing(sqlite3.connect(path, timeout=5.0)) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables:
                with db:
                    for statement in _CREATE_TABLES:
                        db.execute(statement)
                return True
            if not {"iceberg_tables", "iceberg_namespace_properties"} <= tables:
                return False
            return "iceberg_type" in {r[1] for r in db.execute("PRAGMA table_info(iceberg_tables)")}
    except sqlite3.Error:
        return False


class SqliteCatalog(MetastoreCatalog):
    """pyiceberg's SQL catalog on an existing SQLite file, its write path without SQLAlchemy."""

    def __init__(self, name: str, **properties: str) -> None:
        super().__init__(name, **properties)
        path = sqlite_file(properties.get("uri", ""))
        if path is None:
            raise ValueError("SqliteCatalog needs a sqlite:///<path> uri")
        self._path = path
        self._full: Catalog | None = None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=5.0)  # SQLAlchemy's pysqlite default too

    def _pyiceberg(self) -> Catalog:
        """pyiceberg's own SqlCatalog on the same file, for the operations not run here."""
        if self._full is None:
            from pyiceberg.catalog.sql import SqlCatalog

            self._full = SqlCatalog(self.name, **self.properties)
        return self._full

    def load_table(self, identifier: str | Identifier) -> Table:
        """The table's current metadata, as pyiceberg's SqlCatalog loads it."""
        namespace = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
        table_name = Catalog.table_name_from(identifier)
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ? AND "
                f"table_namespace = ? AND table_name = ? AND ({_TABLE_ROWS})",
                (self.name, namespace, table_name),
            ).fetchone()
        if row is None:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{table_name}")
        if not (metadata_location := row[0]):
            raise NoSuchTableError("Table property metadata_location is missing")
        io = load_file_io(properties=self.properties, location=metadata_location)
        metadata = FromInputFile.table_metadata(io.new_input(metadata_location))
        return Table(
            identifier=(*Catalog.identifier_to_tuple(namespace), table_name),
            metadata=metadata,
            metadata_location=metadata_location,
            io=self._load_file_io(metadata.properties, metadata_location),
            catalog=self,
        )

    def _insert_table(self, namespace: str, table_name: str, metadata_location: str) -> None:
        with closing(self._connect()) as db:
            try:
                with db:
                    db.execute(
                        "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, "
                        "metadata_location, previous_metadata_location, iceberg_type) "
                        "VALUES (?, ?, ?, ?, NULL, 'TABLE')",
                        (self.name, namespace, table_name, metadata_location),
                    )
            except sqlite3.IntegrityError as exc:
                raise TableAlreadyExistsError(f"Table {namespace}.{table_name} already exists") from exc

    def create_table(
        self,
        identifier: str | Identifier,
        schema: Schema | pa.Schema,
        location: str | None = None,
        partition_spec: PartitionSpec = UNPARTITIONED_PARTITION_SPEC,
        sort_order: SortOrder = UNSORTED_SORT_ORDER,
        properties: Properties = EMPTY_DICT,
    ) -> Table:
        """Write the first metadata file, then the table's row (``TableAlreadyExistsError`` when
        another writer's row is there first)."""
        version = int(properties.get(TableProperties.FORMAT_VERSION, TableProperties.DEFAULT_FORMAT_VERSION))
        iceberg_schema = self._convert_schema_if_needed(schema, version)  # type: ignore[arg-type]
        namespace_identifier = Catalog.namespace_from(identifier)
        table_name = Catalog.table_name_from(identifier)
        if not self.namespace_exists(namespace_identifier):
            raise NoSuchNamespaceError(f"Namespace does not exist: {namespace_identifier}")
        namespace = Catalog.namespace_to_string(namespace_identifier)
        location = self._resolve_table_location(location, namespace, table_name)
        provider = load_location_provider(table_location=location, table_properties=properties)
        metadata_location = provider.new_table_metadata_file_location()
        metadata = new_table_metadata(
            location=location,
            schema=iceberg_schema,
            partition_spec=partition_spec,
            sort_order=sort_order,
            properties=properties,
        )
        io = load_file_io(properties=self.properties, location=metadata_location)
        self._write_metadata(metadata, io, metadata_location)
        self._insert_table(namespace, table_name, metadata_location)
        return self.load_table(identifier)

    def commit_table(
        self, table: Table, requirements: tuple[TableRequirement, ...], updates: tuple[TableUpdate, ...]
    ) -> CommitTableResponse:
        """Stage the updates on the current metadata, write it, then move the table's row to it
        only if the row still points at the metadata staged on."""
        identifier = table.name()
        namespace = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
        table_name = Catalog.table_name_from(identifier)
        current: Table | None
        try:
            current = self.load_table(identifier)
        except NoSuchTableError:
            current = None
        staged = self._update_and_stage_table(current, identifier, requirements, updates)
        if current and staged.metadata == current.metadata:
            return CommitTableResponse(metadata=current.metadata, metadata_location=current.metadata_location)  # type: ignore[call-arg]
        self._write_metadata(metadata=staged.metadata, io=staged.io, metadata_path=staged.metadata_location)
        if current is None:
            self._insert_table(namespace, table_name, staged.metadata_location)
        else:
            with closing(self._connect()) as db, db:
                moved = db.execute(
                    "UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? "
                    "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? "
                    "AND metadata_location = ?",
                    (
                        staged.metadata_location,
                        current.metadata_location,
                        self.name,
                        namespace,
                        table_name,
                        current.metadata_location,
                    ),
                ).rowcount
            if moved < 1:
                raise CommitFailedException(
                    f"Table has been updated by another process: {namespace}.{table_name}"
                )
        return CommitTableResponse(metadata=staged.metadata, metadata_location=staged.metadata_location)  # type: ignore[call-arg]

    def namespace_exists(self, identifier: str | Identifier) -> bool:
        """A table or a property row in the namespace or below it."""
        namespace = Catalog.namespace_to_string(Catalog.identifier_to_tuple(identifier), NoSuchNamespaceError)
        below = namespace.replace("!", "!!").replace("_", "!_").replace("%", "!%") + ".%"
        with closing(self._connect()) as db:
            for table, column in _NAMESPACE_COLUMNS:
                found = db.execute(
                    f"SELECT 1 FROM {table} WHERE catalog_name = ? "
                    f"AND ({column} = ? OR {column} LIKE ? ESCAPE '!') LIMIT 1",
                    (self.name, namespace, below),
                ).fetchone()
                if found:
                    return True
        return False

    def create_namespace(self, namespace: str | Identifier, properties: Properties = EMPTY_DICT) -> None:
        """One property row per property (``exists=true`` when none is given)."""
        if self.namespace_exists(namespace):
            raise NamespaceAlreadyExistsError(f"Namespace {namespace} already exists")
        name = Catalog.namespace_to_string(namespace, NoSuchNamespaceError)
        rows = [(self.name, name, k, v) for k, v in (properties or _MINIMAL_NAMESPACE_PROPERTIES).items()]
        with closing(self._connect()) as db:
            try:
                with db:
                    db.executemany(
                        "INSERT INTO iceberg_namespace_properties "
                        "(catalog_name, namespace, property_key, property_value) VALUES (?, ?, ?, ?)",
                        rows,
                    )
            except sqlite3.IntegrityError as exc:
                raise NamespaceAlreadyExistsError(f"Namespace {namespace} already exists") from exc

    def load_namespace_properties(self, namespace: str | Identifier) -> Properties:
        """The namespace's property rows."""
        name = Catalog.namespace_to_string(namespace)
        if not self.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace {name} does not exists")
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT property_key, property_value FROM iceberg_namespace_properties "
                "WHERE catalog_name = ? AND namespace = ?",
                (self.name, name),
            ).fetchall()
        return {str(k): str(v) for k, v in rows}

    # Handed to pyiceberg's SqlCatalog on the same file: listing, dropping, renaming, views.

    def register_table(
        self, identifier: str | Identifier, metadata_location: str, overwrite: bool = False
    ) -> Table:
        """pyiceberg's."""
        return self._pyiceberg().register_table(identifier, metadata_location, overwrite)

    def drop_table(self, identifier: str | Identifier) -> None:
        """pyiceberg's."""
        self._pyiceberg().drop_table(identifier)

    def rename_table(self, from_identifier: str | Identifier, to_identifier: str | Identifier) -> Table:
        """pyiceberg's."""
        return self._pyiceberg().rename_table(from_identifier, to_identifier)

    def list_tables(self, namespace: str | Identifier) -> list[Identifier]:
        """pyiceberg's."""
        return self._pyiceberg().list_tables(namespace)

    def list_namespaces(self, namespace: str | Identifier = ()) -> list[Identifier]:
        """pyiceberg's."""
        return self._pyiceberg().list_namespaces(namespace)

    def drop_namespace(self, namespace: str | Identifier) -> None:
        """pyiceberg's."""
        self._pyiceberg().drop_namespace(namespace)

    def update_namespace_properties(
        self, namespace: str | Identifier, removals: set[str] | None = None, updates: Properties = EMPTY_DICT
    ) -> PropertiesUpdateSummary:
        """pyiceberg's."""
        return self._pyiceberg().update_namespace_properties(namespace, removals, updates)

    def list_views(self, namespace: str | Identifier) -> list[Identifier]:
        """pyiceberg's."""
        return self._pyiceberg().list_views(namespace)

    def view_exists(self, identifier: str | Identifier) -> bool:
        """pyiceberg's."""
        return self._pyiceberg().view_exists(identifier)

    def drop_view(self, identifier: str | Identifier) -> None:
        """pyiceberg's."""
        self._pyiceberg().drop_view(identifier)

    def load_view(self, identifier: str | Identifier) -> View:
        """pyiceberg's."""
        return self._pyiceberg().load_view(identifier)

    def register_view(self, identifier: str | Identifier, metadata_location: str) -> View:
        """pyiceberg's."""
        return self._pyiceberg().register_view(identifier, metadata_location)

    def close(self) -> None:
        """Close pyiceberg's catalog if one was opened."""
        if self._full is not None:
            self._full.close()
