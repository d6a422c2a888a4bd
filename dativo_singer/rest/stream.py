"""DativoRESTStream: singer-sdk's RESTStream with Dativo's error classification, bounded
backoff, a shared client-side rate limit, and the secret kept out of every message."""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from http import HTTPStatus
from typing import Any
from urllib.parse import urlparse

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError
from singer_sdk.streams import RESTStream

from dativo_singer.batch_records import RecordBatches
from dativo_singer.rest.backoff_policy import retry_after_seconds, wait_generator
from dativo_singer.rest.errors import (
    RateLimitExhaustedError,
    RestFatalError,
    RestRetriableError,
    api_message,
    describe,
    mask_secret,
    redact,
)
from dativo_singer.rest.rate_limit import RequestRateLimiter
from dativo_singer.rest.settings import (
    DEFAULT_BACKOFF_BASE_SECONDS,
    DEFAULT_MAX_BACKOFF_SECONDS,
    DEFAULT_MAX_RETRY_AFTER_SECONDS,
    DEFAULT_MAX_TRIES,
    DEFAULT_TIMEOUT_SECONDS,
)
from dativo_singer.sdk_internals import RequestHook, stream_tap
from dativo_singer.settings import emits_activate_version

_LIMITER_ATTRIBUTE = "_dativo_rate_limiter"
_RETRIABLE_STATUSES = (HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS)
_NETWORK_ERRORS = (
    ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class DativoRESTStream(RecordBatches, RequestHook, RESTStream[Any]):
    """Base of every Dativo REST stream. A vendor's stream sets ``service_name`` and
    ``secret_setting`` and may override ``server_wait`` (its rate-limit headers) and
    ``quota_exhausted`` (a daily limit in its 429 body)."""

    #: Shown in error lines: ``Stripe GET /v1/customers: ...``.
    service_name: str = "API"
    #: The config setting holding the credential (masked in every message).
    secret_setting: str = "api_key"

    @property
    def emit_activate_version_messages(self) -> bool:
        """On unless a JSON ``false`` turns it off (singer-sdk's own check takes ``"false"`` for
        true): a full-table stream (HubSpot owners, pipelines, associations) reread must replace
        its rows in the target, not add a second copy."""
        return emits_activate_version(self.config, default=True)

    @property
    def url_base(self) -> str:
        """``api_url`` without its trailing slash."""
        return str(self.config["api_url"]).rstrip("/")

    @property
    def timeout(self) -> int:
        """``request_timeout_seconds`` (singer-sdk passes it to requests as is)."""
        # singer-sdk reads JSON numbers as Decimal, which sockets refuse
        return float(self.config.get("request_timeout_seconds", DEFAULT_TIMEOUT_SECONDS))  # type: ignore[return-value]

    @property
    def secret(self) -> str:
        """The credential."""
        return str(self.config.get(self.secret_setting) or "")

    # -- rate limit ---------------------------------------------------------------------------

    @property
    def rate_limiter(self) -> RequestRateLimiter:
        """One limiter per tap (vendors count requests per account)."""
        limiter = getattr(stream_tap(self), _LIMITER_ATTRIBUTE, None)
        if limiter is None:
            limiter = RequestRateLimiter(float(self.config.get("max_requests_per_second") or 0))
            setattr(stream_tap(self), _LIMITER_ATTRIBUTE, limiter)
        return limiter

    def send_request(self, prepared_request: requests.PreparedRequest, context: Any) -> requests.Response:
        self.rate_limiter.wait()
        response = super().send_request(prepared_request, context)
        pause = self.pause_after(response)
        if pause:
            self.rate_limiter.pause_for(min(pause, self._max_backoff))
        return response

    def pause_after(self, response: requests.Response) -> float | None:
        """Seconds to hold requests back after a successful answer that says the rate window is
        spent (vendor headers); None by default."""
        return None

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        context: Any = None,
    ) -> Any:
        """One request outside singer-sdk's paginator (a search, a batch read), through the same
        rate limit, backoff and error classification; the parsed JSON answer."""
        prepared = self.build_prepared_request(
            method=method,
            url=f"{self.url_base}{path}",
            params=params or {},
            headers=self.http_headers,
            json=json_body,
        )
        return self.request_decorator(self.send_request)(prepared, context).json()

    # -- classification -----------------------------------------------------------------------

    def quota_exhausted(self, response: requests.Response) -> str | None:
        """A 429 that retrying soon cannot fix (a daily quota spent): the reason, else None."""
        return None

    def validate_response(self, response: requests.Response) -> None:
        """401/403 and other 4xx: fatal (the credential shown as its last 4 characters at
        most); 408, 429 and 5xx: retriable; a 429 asking for a longer wait than
        ``max_retry_after_seconds``, or a spent daily quota: fatal."""
        status = response.status_code
        if status < HTTPStatus.BAD_REQUEST:
            return
        path = urlparse(response.url).path or self.path or ""
        secrets = [self.secret]
        if status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
            what = "rejected" if status == HTTPStatus.UNAUTHORIZED else "refused access with"
            raise RestFatalError(
                redact(
                    f"{self.service_name} {what} the {self.secret_setting} {mask_secret(self.secret)} "
                    f"(HTTP {status} on {path}): {api_message(response)}",
                    secrets,
                )
            )
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            reason = self.quota_exhausted(response)
            asked = self.server_wait(response)
            limit = float(self.config.get("max_retry_after_seconds", DEFAULT_MAX_RETRY_AFTER_SECONDS))
            if reason is None and asked is not None and asked > limit:
                reason = f"the API asks to wait {asked:.0f} s (more than max_retry_after_seconds {limit:g})"
            if reason:
                raise RateLimitExhaustedError(
                    redact(f"{self.service_name} rate limit exhausted on {path}: {reason}", secrets)
                )
        if status in _RETRIABLE_STATUSES or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RestRetriableError(redact(describe(response, self.service_name, path), secrets), response)
        raise RestFatalError(redact(describe(response, self.service_name, path), secrets))

    def response_error_message(self, response: requests.Response) -> str:
        """The API's message without headers or the full body (they may echo credentials)."""
        return redact(describe(response, self.service_name, urlparse(response.url).path), [self.secret])

    # -- backoff ------------------------------------------------------------------------------

    @property
    def _max_backoff(self) -> float:
        return float(self.config.get("max_backoff_seconds", DEFAULT_MAX_BACKOFF_SECONDS))

    def server_wait(self, response: requests.Response) -> float | None:
        """The wait the server asked for: ``Retry-After`` by default; vendors add their headers."""
        return retry_after_seconds(response)

    def backoff_wait_generator(self) -> Generator[float, Any, None]:
        """The server's requested wait, else exponential backoff with jitter up to
        ``max_backoff_seconds``."""
        base = float(self.config.get("backoff_base_seconds", DEFAULT_BACKOFF_BASE_SECONDS))
        return wait_generator(self.server_wait, base, self._max_backoff)

    def backoff_max_tries(self) -> int:
        """``max_tries`` attempts per request."""
        return int(self.config.get("max_tries", DEFAULT_MAX_TRIES))

    def backoff_jitter(self, value: float) -> float:
        """No extra jitter: the wait generator already spreads its waits, and a server's
        ``Retry-After`` is honoured exactly."""
        return value

    def backoff_handler(self, details: Any) -> None:
        """One warning per retry, without URLs' query strings or headers."""
        exc = details.get("exception")
        reason = str(exc) if isinstance(exc, RetriableAPIError) else type(exc).__name__
        self.logger.warning(
            "%s: attempt %d failed (%s); retrying in %.2f s",
            self.name,
            details.get("tries"),
            redact(reason, [self.secret]),
            details.get("wait") or 0.0,
        )

    def request_decorator(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """singer-sdk's backoff, then one clear retriable error when the attempts run out."""
        decorated = super().request_decorator(func)
        tries = self.backoff_max_tries()

        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return decorated(*args, **kwargs)
            except RestFatalError:
                raise
            except RestRetriableError as exc:
                raise RestRetriableError(f"{exc} (after {tries} attempts)", exc.response) from None
            except FatalAPIError as exc:
                raise RestFatalError(redact(str(exc), [self.secret])) from None
            except RetriableAPIError as exc:
                raise RestRetriableError(redact(f"{exc} (after {tries} attempts)", [self.secret])) from None
            except _NETWORK_ERRORS as exc:
                raise RestRetriableError(
                    f"{self.service_name} {self.path}: {type(exc).__name__} after {tries} attempts: "
                    + redact(str(exc)[:300], [self.secret])
                ) from None

        return call
