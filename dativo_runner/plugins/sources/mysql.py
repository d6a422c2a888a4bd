"""The ``mysql`` source: tap-mysql config from a job's ``source.connection`` and ``objects``."""

from __future__ import annotations

from typing import Any

from dativo_runner.plugins.sources.database import DatabaseSource


class MySQLSource(DatabaseSource):
    """A MySQL or MariaDB table (``database.table``, or ``table`` in the connection's database)."""

    job_schema = "sources/mysql"
    env_prefix = "MYSQL"
    default_port = 3306
    default_user = "root"
    default_database = "mysql"

    def default_schema(self, connection: dict[str, Any], table: str | None) -> str | None:
        """The connection database (MySQL schemas are databases)."""
        return connection.get("database") or None
