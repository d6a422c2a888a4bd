"""What the ``postgres`` and ``mysql`` sources share: the job's ``source.connection`` and
``source.objects`` turned into a database tap's config, checked without connecting anywhere
(`dativo validate` runs before any server is up)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.plugins.base import SourceOption, SourcePlugin

if TYPE_CHECKING:
    from dativo_runner.discovery import DiscoveredStream
    from dativo_runner.drafts import DraftOptions
    from dativo_runner.job_config import Job

_CONNECTION_KEYS = (
    "host",
    "user",
    "password",
    "database",
    "sqlalchemy_url",
    "ssl_mode",
    "ssl_ca_file",
    "ssl_cert_file",
    "ssl_key_file",
)
_CURSOR_WORDS = ("updated", "modified", "changed")  # names of last-modified columns
# Rows per Parquet BATCH file on the fast path (and per commit-at-STATE step of the target).
FAST_PATH_BATCH_ROWS = 250_000


class DatabaseSource(SourcePlugin):
    """A database table, selected by ``source.objects`` and typed by the asset."""

    applies_column_policies = True  # its tap is a dativo_singer PolicyTap

    incremental_settings = ("cursor_field", "lookback_days", "start_date")
    cursor_strategies = ("cursor_column",)
    partition_kinds = ("where", "time_window")
    cli_options = (
        SourceOption("--host", "server host (default ${PG_HOST} / ${MYSQL_HOST}, else 127.0.0.1)"),
        SourceOption("--port", "server port"),
        SourceOption("--user", "user"),
        SourceOption("--database", "database"),
        SourceOption(
            "--password-secret",
            "the tenant secret (or variable) holding the password "
            "(default PG_PASSWORD / MYSQL_PASSWORD, empty when unset)",
            "NAME",
        ),
    )
    #: ``${<PREFIX>_HOST}``... variables a drafted job reads its connection from, and defaults.
    env_prefix = "DB"
    default_port = 0
    default_user = ""
    default_database = ""

    def _table(self, job: Job) -> tuple[str | None, list[Problem]]:
        objects = job.source_settings.objects
        if len(objects) != 1:
            return None, [
                Problem(
                    job.file,
                    "source.objects",
                    f"names {len(objects)} tables; a {job.source_entry.name} job reads one table "
                    "([schema.]table), the asset's object",
                )
            ]
        return objects[0], []

    def _connection(self, job: Job) -> tuple[dict[str, Any], list[Problem]]:
        connection = dict(job.source.get("connection") or {})
        problems = []
        if not connection.get("sqlalchemy_url"):
            for key in ("host", "user", "database"):
                if not connection.get(key):
                    problems.append(
                        Problem(job.file, f"source.connection.{key}", "is required (or give sqlalchemy_url)")
                    )
        port = connection.get("port")
        if port is not None and not str(port).isdigit():
            problems.append(Problem(job.file, "source.connection.port", f"{port!r} is not a port number"))
        return connection, problems

    def draft_object(self, stream: DiscoveredStream) -> str:
        """The table as discovered (``schema.table``)."""
        return stream.stream

    def draft_incremental(self, stream: DiscoveredStream) -> dict[str, Any]:
        """A last-modified timestamp or date column as the cursor, else a full read."""
        types = {f.name: f.type for f in stream.fields}
        for name in stream.replication_key_candidates:
            if types.get(name) in ("timestamp", "date") and any(w in name.lower() for w in _CURSOR_WORDS):
                return {"strategy": "cursor_column", "cursor_field": name}
        return {"strategy": "full_table"}

    def check(self, job: Job) -> list[Problem]:
        """One table named, a connection described, a partitioned job read on a cursor column;
        nothing is contacted."""
        return self._table(job)[1] + self._connection(job)[1] + self._partition_problems(job)

    def _partition_problems(self, job: Job) -> list[Problem]:
        """A partition's rerun must resume from its bookmark: a full-table read would replace
        the whole table (every partition's rows) at its end."""
        if "partitions" not in job.data or job.incremental.cursor_field:
            return []
        return [
            Problem(
                job.file,
                "partitions",
                "a partitioned database job reads incrementally: set source.incremental.cursor_field "
                "(a full-table read replaces the whole table, every partition's rows)",
            )
        ]

    def plan_config(self, job: Job) -> dict[str, Any]:
        """Connection settings, the table of the asset's stream, look-back, and the Parquet fast
        path unless ``source.fast_path`` is false."""
        table, problems = self._table(job)
        connection, more = self._connection(job)
        if problems or more:
            raise ConfigError(problems + more)
        config = _connection_config(connection)
        config["tables"] = {job.asset.object: table}
        partition = job.partition
        if partition is not None and partition.where:
            config["row_filter"] = partition.where  # the job's own condition, as written
        if partition is not None and partition.start and partition.end and partition.column:
            config["row_window"] = {
                "column": partition.column,
                "start": partition.start,
                "end": partition.end,
            }
        if job.incremental.lookback_days:
            config["lookback_days"] = job.incremental.lookback_days
        if job.incremental.start_date:
            config["start_date"] = job.incremental.start_date
        if not job.incremental.cursor_field:
            # The target replaces the table at the end of a full read (ACTIVATE_VERSION).
            config["emit_activate_version_messages"] = True
        if job.source.get("fast_path", True):
            # No storage root: `dativo run` gives the run's own folder (docs/BATCH.md).
            config["batch_config"] = {
                "encoding": {"format": "parquet"},
                "batch_size": int(job.source.get("batch_rows") or FAST_PATH_BATCH_ROWS),
            }
        return config

    def default_schema(self, connection: dict[str, Any], table: str | None) -> str | None:
        """The schema an unqualified table is looked up in (None: every schema)."""
        return None

    def _scope(self, job: Job) -> tuple[str | None, str | None]:
        """(schema, table) of ``source.objects``; without one table (or with ``schema.*``), the
        schema to list (None: every schema)."""
        objects = job.source_settings.objects
        schema, table = "", ""
        if len(objects) == 1:
            schema, _, table = str(objects[0]).rpartition(".")
        connection = job.source.get("connection") or {}
        table = "" if table == "*" else table  # ``schema.*``: every table of the schema
        return schema or self.default_schema(connection, table or None), table or None

    def discovery_config(self, job: Job) -> dict[str, Any]:
        """The connection, and ``filter_schemas`` for the table's schema (nothing else is read)."""
        connection, problems = self._connection(job)
        if problems:
            raise ConfigError(problems)
        config = _connection_config(connection)
        schema, _ = self._scope(job)
        if schema:
            config["filter_schemas"] = [schema]
        return config

    def discover(self, job: Job) -> list[DiscoveredStream]:
        """Every table and view of the schemas in scope, or the one ``source.objects`` names."""
        from dativo_runner.drafts import object_name

        streams = super().discover(job)
        schema, table = self._scope(job)
        if table is None:
            return streams
        streams = [s for s in streams if object_name(s.stream) == table]
        if not streams:
            where = f"schema {schema!r}" if schema else "the database"
            raise ConfigError([Problem(job.file, "source.objects", f"no table or view {table!r} in {where}")])
        return streams

    def draft_source(self, options: DraftOptions) -> dict[str, Any]:
        """The table and a connection whose unset parts (and the password) are ``${VAR}``s."""
        prefix = self.env_prefix

        def value(given: str | None, name: str, default: object) -> object:
            if given is None:
                return f"${{{prefix}_{name}:-{default}}}"
            return int(given) if name == "PORT" and given.isdigit() else given

        secret = options.get("password_secret")
        password = secret or f"{prefix}_PASSWORD"
        block = super().draft_source(options)
        block["connection"] = {
            "host": value(options.get("host"), "HOST", "127.0.0.1"),
            "port": value(options.get("port"), "PORT", self.default_port),
            "user": value(options.get("user"), "USER", self.default_user),
            "password": f"${{{password}}}" if secret else f"${{{password}:-}}",
            "database": value(options.get("database"), "DATABASE", self.default_database),
        }
        return block


def _connection_config(connection: dict[str, Any]) -> dict[str, Any]:
    """The tap's connection settings of a job's ``source.connection``."""
    config: dict[str, Any] = {k: connection[k] for k in _CONNECTION_KEYS if connection.get(k)}
    if connection.get("port") is not None:
        config["port"] = int(connection["port"])
    return config
