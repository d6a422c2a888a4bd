"""What the ``postgres`` and ``mysql`` sources share: the job's ``source.connection`` and
``source.objects`` turned into a database tap's config, checked without connecting anywhere
(`dativo validate` runs before any server is up)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.plugins.base import SourcePlugin

if TYPE_CHECKING:
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
# Rows per Parquet BATCH file on the fast path (and per commit-at-STATE step of the target).
FAST_PATH_BATCH_ROWS = 250_000


class DatabaseSource(SourcePlugin):
    """A database table, selected by ``source.objects`` and typed by the asset."""

    incremental_settings = ("cursor_field", "lookback_days", "start_date")

    def _table(self, job: Job) -> tuple[str | None, list[Problem]]:
        objects = job.source.get("objects") or []
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

    def check(self, job: Job) -> list[Problem]:
        """One table named, a connection described; nothing is contacted."""
        return self._table(job)[1] + self._connection(job)[1]

    def plan_config(self, job: Job) -> dict[str, Any]:
        """Connection settings, the table of the asset's stream, look-back, and the Parquet fast
        path unless ``source.fast_path`` is false."""
        table, problems = self._table(job)
        connection, more = self._connection(job)
        if problems or more:
            raise ConfigError(problems + more)
        config: dict[str, Any] = {k: connection[k] for k in _CONNECTION_KEYS if connection.get(k)}
        if connection.get("port") is not None:
            config["port"] = int(connection["port"])
        config["tables"] = {job.asset.object: table}
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
