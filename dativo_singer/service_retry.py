"""Bounded retries of a call to a storage or catalog service that may be briefly unreachable
(restarted, dropping connections): jittered exponential backoff until the call passes or the
budget (attempts or seconds, whichever ends first) is spent, then one ``RetriableError`` line
naming the service. A call that may have landed although its answer was lost (a commit) is
checked with ``landed`` before it is made again, so it is never made twice.

The budget is tuned with the environment (the runner passes its own to the tap and target):
``DATIVO_SERVICE_RETRY_SECONDS`` (default 120), ``DATIVO_SERVICE_MAX_TRIES`` (default 10),
``DATIVO_SERVICE_RETRY_FIRST_WAIT`` (default 0.5 s, doubled per attempt, capped at 10 s)."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests

from dativo_singer.errors import DativoSingerError, FatalError, RetriableError

T = TypeVar("T")
_CONFIG_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
CONNECTION_MARKERS = (
    "connection refused",
    "could not connect",
    "connection timed out",
    "timeout expired",
    "server closed the connection",
    "terminating connection",
    "connection reset",
    "can't connect",
    "lost connection",
    "connection is closed",
    "ssl syscall error",
)


@dataclass(frozen=True)
class RetryBudget:
    """How long a service may stay unreachable before the run gives up."""

    max_tries: int = 10
    max_seconds: float = 120.0
    first_wait: float = 0.5
    max_wait: float = 10.0

    @classmethod
    def from_env(cls) -> RetryBudget:
        """The defaults, overridden by ``DATIVO_SERVICE_*`` variables (a bad value: FatalError)."""
        values = {}
        for name, key, kind in (
            ("DATIVO_SERVICE_MAX_TRIES", "max_tries", int),
            ("DATIVO_SERVICE_RETRY_SECONDS", "max_seconds", float),
            ("DATIVO_SERVICE_RETRY_FIRST_WAIT", "first_wait", float),
        ):
            text = os.environ.get(name, "").strip()
            if not text:
                continue
            try:
                value = kind(text)
            except ValueError:
                raise FatalError(f"{name}={text!r} is not a number") from None
            if value < (1 if key == "max_tries" else 0):
                raise FatalError(f"{name}={text!r} must be {'at least 1' if key == 'max_tries' else '>= 0'}")
            values[key] = value
        return cls(**values)  # type: ignore[arg-type]


def causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and its chain of causes and contexts."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def is_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` (or its cause) says a service could not be reached or dropped the
    connection: a later attempt may pass. Missing files, bad paths and permissions are
    configuration, not connectivity."""
    for cause in causes(exc):
        if isinstance(cause, RetriableError):
            return True
        if isinstance(cause, (DativoSingerError, *_CONFIG_OS_ERRORS)):
            return False
        if isinstance(cause, (ConnectionError, TimeoutError, requests.ConnectionError, requests.Timeout)):
            return True
        if type(cause).__name__ in ("OperationalError", "InterfaceError"):  # DB-API: connection only
            text = str(cause).lower()
            return any(marker in text for marker in CONNECTION_MARKERS)
        if isinstance(cause, OSError):
            return True
    return False


def call_with_retries(
    action: Callable[[], T],
    *,
    service: str,
    what: str,
    logger: logging.Logger,
    transient: Callable[[BaseException], bool] = is_unreachable,
    landed: Callable[[], T | None] | None = None,
    budget: RetryBudget | None = None,
) -> T:
    """``action()``, retried while it fails with a ``transient`` error and the budget lasts.
    Before each new attempt, ``landed()`` (when given) may return the result of an earlier
    attempt that did take effect; its own transient failures count as failed attempts."""
    budget = budget or RetryBudget.from_env()
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            if attempt > 1 and landed is not None:
                done = landed()
                if done is not None:
                    logger.info("%s: %s had landed before the connection failed", service, what)
                    return done
            return action()
        except Exception as exc:
            if not transient(exc):
                raise
            elapsed = time.monotonic() - started
            left = budget.max_seconds - elapsed
            if attempt >= budget.max_tries or left <= 0:
                raise RetriableError(
                    f"{service} unreachable: {what} failed after {attempt} attempts in {elapsed:.0f}s "
                    f"({type(exc).__name__}: {_first_line(exc)})"
                ) from exc
            ceiling = min(budget.max_wait, budget.first_wait * 2 ** (attempt - 1))
            wait = min(left, ceiling / 2 + random.uniform(0, ceiling / 2))
            logger.warning(
                "%s unreachable during %s (attempt %d of %d): %s: %s; retrying in %.1fs",
                service,
                what,
                attempt,
                budget.max_tries,
                type(exc).__name__,
                _first_line(exc),
                wait,
            )
            time.sleep(wait)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else "no message"
