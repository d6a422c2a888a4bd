"""Fast path readers: a SELECT straight into Arrow record batches, no per-row Python.

PostgreSQL: ADBC's libpq driver (``COPY ... TO STDOUT (FORMAT binary)`` decoded in C++, streamed
with ``fetch_record_batch``). MySQL/MariaDB: connectorx (Rust, binary protocol) as an Arrow
stream. Measured against each other in benchmarks/README.md."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

# Rows per record batch asked of connectorx (ADBC sizes its batches by bytes itself).
READ_BATCH_ROWS = 65_536


def adbc_postgres_batches(uri: str, sql: str) -> Iterator[pa.RecordBatch]:
    """Record batches of ``sql`` read through ADBC's PostgreSQL driver."""
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(uri) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        reader = cursor.fetch_record_batch()
        yield from reader


def connectorx_batches(uri: str, sql: str, batch_rows: int = READ_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Record batches of ``sql`` read through connectorx's Arrow stream."""
    import connectorx

    reader = connectorx.read_sql(uri, sql, return_type="arrow_stream", batch_size=batch_rows)
    yield from reader
