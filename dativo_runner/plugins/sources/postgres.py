"""The ``postgres`` source: tap-postgres config from a job's ``source.connection`` and ``objects``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dativo_runner.plugins.sources.database import DatabaseSource

if TYPE_CHECKING:
    from dativo_runner.job_config import Job
    from dativo_runner.plugins.base import SourceCheck


class PostgresSource(DatabaseSource):
    """A PostgreSQL table (``schema.table``; ``public`` is PostgreSQL's default search path)."""

    job_schema = "sources/postgres"
    env_prefix = "PG"
    default_port = 5432
    default_user = "postgres"
    default_database = "postgres"

    def default_schema(self, connection: dict[str, Any], table: str | None) -> str | None:
        """``public`` for an unqualified table; every schema when none is named."""
        return "public" if table else None

    def check_source(
        self, job: Job, config: dict[str, Any], state: dict[str, Any] | None, kept: dict[str, Any] | None
    ) -> SourceCheck:
        """A cursor job: nothing new when no row of the look-back window was written since the
        kept mark (``postgres_changes``; docs/DATABASES.md, "Nothing new")."""
        from dativo_runner.plugins.sources.postgres_changes import check_postgres
        from dativo_runner.singer_catalog import plan_catalog

        return check_postgres(config, plan_catalog(job), state, kept)
