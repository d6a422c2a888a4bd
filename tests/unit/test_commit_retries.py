"""The commit retry budget of target-iceberg's TableWriter under contention: many lost races
still land, waits are jittered and capped, and the budget is bounded in time (then exit 75)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pyiceberg.exceptions import CommitFailedException
from target_iceberg import table_writer
from target_iceberg.table_writer import TableSettings, TableWriter

from dativo_singer.errors import RetriableError


class _Clock:
    """time.monotonic/time.sleep stand-ins: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


class _Catalog:
    properties: dict[str, str] = {"type": "sql", "uri": "sqlite:///catalog.db"}

    def load_table(self, identifier: str) -> Any:
        return f"table {identifier}"


def _writer(monkeypatch: pytest.MonkeyPatch) -> tuple[TableWriter, _Clock]:
    clock = _Clock()
    monkeypatch.setattr(table_writer.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(table_writer.time, "sleep", clock.sleep)
    writer = TableWriter(_Catalog(), TableSettings(namespace="t", name="items"), logging.getLogger("test"))  # type: ignore[arg-type]
    writer._table = "table t.items"  # type: ignore[assignment]
    return writer, clock


def _losing(times: int) -> tuple[list[int], Any]:
    calls: list[int] = []

    def action(table: Any, properties: dict[str, str]) -> None:
        calls.append(1)
        if len(calls) <= times:
            raise CommitFailedException("a concurrent commit won")

    return calls, action


def test_a_commit_that_loses_many_races_still_lands(monkeypatch: pytest.MonkeyPatch) -> None:
    writer, clock = _writer(monkeypatch)
    calls, action = _losing(15)
    assert writer._with_retries(action, {}) == "table t.items"
    assert len(calls) == 16
    assert all(0 < wait <= table_writer.COMMIT_BACKOFF_MAX_SECONDS for wait in clock.waits)
    assert len(set(clock.waits)) == len(clock.waits)  # jittered


def test_the_retry_budget_is_bounded_in_time_then_retriable(monkeypatch: pytest.MonkeyPatch) -> None:
    writer, clock = _writer(monkeypatch)
    calls, action = _losing(10_000)
    with pytest.raises(RetriableError, match="kept conflicting with concurrent writers"):
        writer._with_retries(action, {})
    assert sum(clock.waits) == pytest.approx(table_writer.COMMIT_RETRY_SECONDS)
    assert len(calls) <= table_writer.MAX_COMMIT_ATTEMPTS
