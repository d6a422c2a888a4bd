"""dativo_singer.service_retry: bounded retries of calls to a briefly unreachable service."""

from __future__ import annotations

import logging
import socket

import pytest

from dativo_singer.errors import FatalError, RetriableError
from dativo_singer.service_retry import RetryBudget, call_with_retries, is_unreachable

LOG = logging.getLogger("test")
FAST = RetryBudget(max_tries=4, max_seconds=5, first_wait=0.001, max_wait=0.002)


def _refused() -> None:
    """A real refused connection (nothing listens on the port just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    socket.create_connection(("127.0.0.1", port), timeout=1)


def test_transient_failures_are_retried_until_the_call_passes() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            _refused()
        return "done"

    assert call_with_retries(flaky, service="S3 x", what="writing k", logger=LOG, budget=FAST) == "done"
    assert len(calls) == 3


def test_past_the_budget_one_retriable_line_names_the_service() -> None:
    with pytest.raises(RetriableError) as raised:
        call_with_retries(_refused, service="Iceberg rest catalog http://h:1", what="commit to a.b",
                          logger=LOG, budget=FAST)
    message = str(raised.value)
    assert message.startswith("Iceberg rest catalog http://h:1 unreachable: commit to a.b failed after 4 attempts")
    assert "\n" not in message


def test_a_call_that_landed_is_not_made_again() -> None:
    calls: list[int] = []

    def commit() -> str:
        calls.append(1)
        raise ConnectionResetError("answer lost")  # it landed, the answer did not arrive

    result = call_with_retries(commit, service="s", what="commit", logger=LOG, budget=FAST,
                               landed=lambda: "found" if calls else None)
    assert result == "found" and len(calls) == 1


def test_configuration_errors_are_not_retried() -> None:
    calls: list[int] = []

    def missing() -> None:
        calls.append(1)
        raise FileNotFoundError("no such bucket folder")

    with pytest.raises(FileNotFoundError):
        call_with_retries(missing, service="s", what="w", logger=LOG, budget=FAST)
    assert len(calls) == 1
    assert not is_unreachable(FatalError("bad setting"))
    assert is_unreachable(RetriableError("S3 down"))


def test_budget_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATIVO_SERVICE_RETRY_SECONDS", "7.5")
    monkeypatch.setenv("DATIVO_SERVICE_MAX_TRIES", "3")
    assert RetryBudget.from_env() == RetryBudget(max_tries=3, max_seconds=7.5)
    monkeypatch.setenv("DATIVO_SERVICE_MAX_TRIES", "0")
    with pytest.raises(FatalError, match="DATIVO_SERVICE_MAX_TRIES='0' must be at least 1"):
        RetryBudget.from_env()


def test_a_database_connection_ended_mid_read_is_retriable_and_names_the_server() -> None:
    from dativo_singer.sql.errors import classify
    from dativo_singer.sql.settings import connection_of

    config = {"host": "db", "user": "app", "password": "hunter2-secret", "database": "shop"}
    for driver, port, text in (
        ("postgresql+psycopg2", 5432, "terminating connection due to administrator command\nSSL SYSCALL"),
        ("mysql+pymysql", 3306, "(2013, 'Lost connection to MySQL server during query')"),
        # connectorx's panic when its MySQL connection is KILLed mid-stream
        ("mysql+pymysql", 3306, "cx writer failed: Source(MySQLError(CodecError { IO error: `bytes remaining "
                                "on stream' }))"),
    ):
        error = classify(Exception(text), connection_of(config, driver, port), config)
        assert isinstance(error, RetriableError), text
        assert str(error).startswith(f"db:{port}: connection lost: ") and "\n" not in str(error)
