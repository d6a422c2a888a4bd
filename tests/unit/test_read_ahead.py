"""The RECORD path's read-ahead: every driver batch in order, and a driver error raised in the
tap's own thread, as when it read the batches itself."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from dativo_singer.errors import FatalError
from dativo_singer.sql.arrow_readers import read_ahead


def _batches(count: int, fail_after: int | None = None) -> Iterator[pa.RecordBatch]:
    for index in range(count):
        if index == fail_after:
            raise FatalError("postgres at 127.0.0.1:5432: connection lost")
        yield pa.record_batch({"id": [index]})


def test_every_batch_comes_in_order() -> None:
    got = [batch.column(0)[0].as_py() for batch in read_ahead(lambda: _batches(50))]
    assert got == list(range(50))


def test_a_driver_error_is_raised_in_the_callers_thread_after_the_batches_before_it() -> None:
    got: list[int] = []
    with pytest.raises(FatalError, match="connection lost"):
        for batch in read_ahead(lambda: _batches(10, fail_after=3)):
            got.append(batch.column(0)[0].as_py())
    assert got == [0, 1, 2]
