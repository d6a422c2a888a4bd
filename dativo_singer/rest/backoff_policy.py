"""How long to wait before retrying a request: the server's word first (``Retry-After`` or a
vendor's rate-limit headers), else exponential backoff with jitter, always bounded."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Generator

import requests
from singer_sdk.exceptions import RetriableAPIError


def retry_after_seconds(response: requests.Response) -> float | None:
    """``Retry-After`` as seconds (a number or an HTTP date), else None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


def exponential_wait(attempt: int, base: float, cap: float) -> float:
    """``base * 2**(attempt-1)`` capped at ``cap``, with "equal jitter": a random value in
    [half, all] of it, so many clients retrying together spread out."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def wait_generator(
    server_wait: Callable[[requests.Response], float | None], base: float, cap: float
) -> Generator[float, BaseException | None, None]:
    """A backoff wait generator (the exception that failed is sent in): the server's requested
    wait when it gave one (never less), else exponential backoff with jitter."""
    attempt = 0
    exc = yield  # type: ignore[misc]  # primed by backoff with send(None)
    while True:
        attempt += 1
        wait = exponential_wait(attempt, base, cap)
        response = exc.response if isinstance(exc, RetriableAPIError) else None
        if response is not None:
            asked = server_wait(response)
            if asked is not None:
                wait = asked
        exc = yield wait
