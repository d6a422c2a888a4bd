"""The shared REST layer (dativo_singer.rest): waits, rate limit, classification, masking."""

from __future__ import annotations

import time

import pytest
import requests
from singer_sdk.exceptions import RetriableAPIError

from dativo_singer.errors import FatalError, RetriableError
from dativo_singer.rest.backoff_policy import exponential_wait, retry_after_seconds, wait_generator
from dativo_singer.rest.errors import RestFatalError, RestRetriableError, api_message, mask_secret
from dativo_singer.rest.rate_limit import RequestRateLimiter


def _response(status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers.update(headers or {})
    response.url = "http://127.0.0.1/v1/customers"
    return response


def test_retry_after_is_honoured_exactly_else_exponential_with_jitter_and_a_cap() -> None:
    gen = wait_generator(retry_after_seconds, base=1.0, cap=8.0)
    next(gen)
    assert gen.send(RetriableAPIError("x", _response(429, headers={"Retry-After": "7"}))) == 7.0
    waits = [gen.send(RetriableAPIError("x", _response(503))) for _ in range(6)]
    assert 1.0 <= waits[0] <= 2.0  # attempt 2: between half and all of 2 s
    assert all(0 < w <= 8.0 for w in waits) and waits[-1] >= 4.0
    assert gen.send(ConnectionError()) <= 8.0  # no response: backoff only


def test_exponential_wait_spreads_between_half_and_all() -> None:
    values = {round(exponential_wait(3, 1.0, 60.0), 3) for _ in range(50)}
    assert min(values) >= 2.0 and max(values) <= 4.0 and len(values) > 10


def test_retry_after_as_an_http_date() -> None:
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= (retry_after_seconds(_response(429, headers={"Retry-After": date})) or 0) <= 31


def test_rate_limiter_spaces_requests_and_zero_means_none() -> None:
    limiter = RequestRateLimiter(50)
    started = time.monotonic()
    for _ in range(11):
        limiter.wait()
    assert time.monotonic() - started >= 0.19
    unlimited = RequestRateLimiter(0)
    assert sum(unlimited.wait() for _ in range(100)) == 0.0


def test_secret_mask_shows_at_most_the_last_four_characters() -> None:
    assert mask_secret("sk_live_0123456789abcdWXYZ") == "****WXYZ"
    assert mask_secret("short") == "****"  # a short secret shows nothing
    assert mask_secret("") == "(empty)"


def test_errors_are_dativo_errors_with_their_exit_class() -> None:
    assert isinstance(RestFatalError("x"), FatalError)
    assert isinstance(RestRetriableError("x"), RetriableError)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error": {"type": "invalid_request_error", "message": "No such customer"}}', "No such customer"),
        (b'{"status": "error", "message": "limit exceeded", "category": "RATE_LIMITS"}', "limit exceeded"),
        (b"<html>Bad gateway</html>", "<html>Bad gateway</html>"),
    ],
)
def test_api_message_reads_stripe_hubspot_and_plain_bodies(body: bytes, message: str) -> None:
    assert api_message(_response(400, body)) == message
