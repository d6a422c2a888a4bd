"""Fast path readers: a SELECT straight into Arrow record batches, no per-row Python.

PostgreSQL: ADBC's libpq driver (``COPY ... TO STDOUT (FORMAT binary)`` decoded in C++, streamed
with ``fetch_record_batch``). MySQL/MariaDB: connectorx (Rust, binary protocol) as an Arrow
stream. Measured against each other in benchmarks/README.md."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import cast

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


_DONE = object()


def read_ahead(batches: Callable[[], Iterator[pa.RecordBatch]]) -> Iterator[pa.RecordBatch]:
    """The batches of ``batches()``, the next one read in a thread while the caller works on the
    current one (the drivers read in C with the GIL released); an error raised while reading is
    raised here. At most one batch waits."""
    waiting: queue.Queue[object] = queue.Queue(maxsize=1)

    def read() -> None:
        try:
            for batch in batches():
                waiting.put(batch)
            waiting.put(_DONE)
        except BaseException as exc:  # re-raised in the caller's thread
            waiting.put(exc)

    threading.Thread(target=read, name="read-ahead", daemon=True).start()
    while (item := waiting.get()) is not _DONE:
        if isinstance(item, BaseException):
            raise item
        yield cast(pa.RecordBatch, item)
