"""The ``mysql`` source: tap-mysql config from a job's ``source.connection`` and ``objects``."""

from __future__ import annotations

from dativo_runner.plugins.sources.database import DatabaseSource


class MySQLSource(DatabaseSource):
    """A MySQL or MariaDB table (``database.table``, or ``table`` in the connection's database)."""

    job_schema = "sources/mysql"
