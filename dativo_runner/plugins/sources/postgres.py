"""The ``postgres`` source: tap-postgres config from a job's ``source.connection`` and ``objects``."""

from __future__ import annotations

from typing import Any

from dativo_runner.plugins.sources.database import DatabaseSource


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
