"""The ``postgres`` source: tap-postgres config from a job's ``source.connection`` and ``objects``;
with ``source.incremental.strategy: log_based``, the slot and publication it reads (docs/CDC.md)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.plugins.sources.database import DatabaseSource

if TYPE_CHECKING:
    from dativo_runner.job_config import Job
    from dativo_runner.plugins.base import SourceCheck

_NOT_IN_NAME = re.compile(r"[^a-z0-9_]+")


def log_names(job: Job) -> tuple[str, str]:
    """(slot, publication) of a log-based job: as named in ``source.incremental``, else
    ``dativo_<tenant>_<job>`` (one of each per job, so jobs never confirm each other's changes)."""
    base = _NOT_IN_NAME.sub("_", f"dativo_{job.tenant_id}_{job.name}".lower()).strip("_")[:63]
    return job.incremental.slot or base, job.incremental.publication or base


class PostgresSource(DatabaseSource):
    """A PostgreSQL table (``schema.table``; ``public`` is PostgreSQL's default search path)."""

    job_schema = "sources/postgres"
    env_prefix = "PG"
    default_port = 5432
    default_user = "postgres"
    default_database = "postgres"
    incremental_settings = (*DatabaseSource.incremental_settings, "publication", "slot")

    def default_schema(self, connection: dict[str, Any], table: str | None) -> str | None:
        """``public`` for an unqualified table; every schema when none is named."""
        return "public" if table else None

    def forget(self, job: Job) -> str | None:
        """A log-based job's replication slot is dropped (the next run takes a new snapshot,
        which replaces the table, from a new slot): it no longer holds WAL on the server."""
        if not job.incremental.log_based:
            return None
        import psycopg2
        from sqlalchemy.engine import make_url
        from tap_postgres.wal import drop_slot

        from dativo_singer.errors import DativoSingerError

        config = self.plan_config(job)
        slot = str(config["replication_slot"])
        if config.get("sqlalchemy_url"):
            url = make_url(str(config["sqlalchemy_url"]))
            params = {"host": url.host, "port": url.port, "user": url.username, "password": url.password}
            params["dbname"] = url.database
        else:
            params = {k: config.get(k) for k in ("host", "port", "user", "password")}
            params["dbname"] = config.get("database")
        try:
            connection = psycopg2.connect(
                **{k: v for k, v in params.items() if v is not None}, connect_timeout=10
            )
        except psycopg2.Error as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                [Problem(job.file, "source.connection", f"cannot drop slot {slot!r}: {message}")]
            ) from None
        connection.autocommit = True
        try:
            dropped = drop_slot(connection, slot)
        except DativoSingerError as exc:
            raise ConfigError([Problem(job.file, "source.incremental.slot", str(exc))]) from None
        finally:
            connection.close()
        if not dropped:
            return None
        return f"dropped replication slot {slot!r}; the next run reads the table again from a new one"

    def plan_config(self, job: Job) -> dict[str, Any]:
        """The database settings, and for a log-based job its slot and publication."""
        config = super().plan_config(job)
        if job.incremental.log_based:
            config["replication_slot"], config["publication"] = log_names(job)
            config.pop("emit_activate_version_messages", None)  # a change stream is never replaced
        return config

    def check_source(
        self, job: Job, config: dict[str, Any], state: dict[str, Any] | None, kept: dict[str, Any] | None
    ) -> SourceCheck:
        """A cursor job: nothing new when no row of the look-back window was written since the
        kept mark (``postgres_changes``; docs/DATABASES.md, "Nothing new")."""
        from dativo_runner.plugins.base import SourceCheck as Check
        from dativo_runner.plugins.sources.postgres_changes import check_postgres
        from dativo_runner.singer_catalog import plan_catalog

        if job.incremental.log_based:  # the slot answers that, in the tap
            return Check(False)
        return check_postgres(config, plan_catalog(job), state, kept)
