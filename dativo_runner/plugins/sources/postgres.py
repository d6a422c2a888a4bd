"""The ``postgres`` source: tap-postgres config from a job's ``source.connection`` and ``objects``."""

from __future__ import annotations

from dativo_runner.plugins.sources.database import DatabaseSource


class PostgresSource(DatabaseSource):
    """A PostgreSQL table (``schema.table``; ``public`` is PostgreSQL's default search path)."""

    job_schema = "sources/postgres"
