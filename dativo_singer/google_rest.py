"""GoogleAPIStream: the shared REST stream (`dativo_singer.rest`) speaking to Google APIs.

It adds what Google needs to the shared retry, backoff and rate limit: a bearer token from
`GoogleAuth` set on every attempt (a token that expired mid-run is replaced once), Google's error
envelope (``{"error": {"code", "message", "status", "errors": [{"reason"}]}}``) read for the
message, Drive's 403 ``rateLimitExceeded``/``userRateLimitExceeded`` retried like a 429, and every
fatal line naming the file, folder or spreadsheet the request was about.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import requests
from requests.auth import AuthBase

from dativo_singer.errors import DativoSingerError
from dativo_singer.google_auth import GoogleAuth, load_credentials, principal
from dativo_singer.rest import DativoRESTStream, RestFatalError, RestRetriableError
from dativo_singer.rest.errors import api_message
from dativo_singer.sdk_internals import stream_tap

_AUTH_ATTRIBUTE = "_dativo_google_auth"
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})


def error_reasons(response: requests.Response) -> set[str]:
    """The ``reason`` values of Google's error body (``errors[].reason``, ``details[].reason``)."""
    try:
        body = response.json()
    except ValueError:
        return set()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return set()
    items = [*(error.get("errors") or []), *(error.get("details") or [])]
    found = {str(item.get("reason")) for item in items if isinstance(item, dict) and item.get("reason")}
    if error.get("status"):
        found.add(str(error["status"]))
    return found


class _Bearer(AuthBase):
    """Sets the Authorization header on each attempt, so a retry carries a fresh token."""

    def __init__(self, stream: GoogleAPIStream) -> None:
        self.stream = stream

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        try:
            request.headers.update(self.stream.google_auth.headers())
        except DativoSingerError as exc:
            raise type(exc)(f"{self.stream.resource}: {exc}") from None
        return request


class GoogleAPIStream(DativoRESTStream):
    """Base of the Google taps' streams: ``scopes`` to ask for, ``resource`` (what the request
    is about, set before each request) in every error line."""

    service_name = "Google API"
    secret_setting = "credentials_json"
    scopes: Sequence[str] = ()
    path = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resource = self.name  # e.g. "folder 1AbC (files[0])"; set by the streams

    @property
    def google_auth(self) -> GoogleAuth:
        """One token source per tap, shared by its streams."""
        auth = getattr(stream_tap(self), _AUTH_ATTRIBUTE, None)
        if auth is None:
            # Its own session: this stream's session applies the bearer auth to every request.
            auth = GoogleAuth(load_credentials(self.config, self.scopes))
            setattr(stream_tap(self), _AUTH_ATTRIBUTE, auth)
        return auth

    @property
    def authenticator(self) -> AuthBase:
        """Bearer token from the service-account key or refresh token."""
        return _Bearer(self)

    @property
    def secret(self) -> str:
        """The current access token: masked wherever a message might echo it."""
        auth = getattr(stream_tap(self), _AUTH_ATTRIBUTE, None)
        return str(getattr(auth.credentials, "token", "") or "") if auth else ""

    def validate_response(self, response: requests.Response) -> None:
        """401 once: the token is replaced and the request retried; 401 again, 403 (no access,
        insufficient scopes) and 404: one fatal line naming the resource and who asked; Drive's
        403 rate-limit reasons: retried; 429 and 5xx: the shared rules (bounded retries)."""
        status = response.status_code
        if status < HTTPStatus.BAD_REQUEST:
            return
        reasons = error_reasons(response)
        who = principal(self.google_auth.credentials)
        detail = f"HTTP {status} {' '.join(sorted(reasons))}".rstrip() + f": {api_message(response)}"
        if status == HTTPStatus.UNAUTHORIZED and not self.google_auth.fresh:
            self.google_auth.invalidate()
            raise RestRetriableError(f"{self.resource}: access token refused ({detail})", response)
        if status == HTTPStatus.FORBIDDEN and reasons & RATE_LIMIT_REASONS:
            raise RestRetriableError(f"{self.service_name} rate limit on {self.resource}: {detail}", response)
        if status in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
            raise RestFatalError(f"{self.resource}: {self.service_name} refused access to {who} ({detail})")
        if status == HTTPStatus.NOT_FOUND:
            raise RestFatalError(f"{self.resource}: not found, or not shared with {who} ({detail})")
        try:
            super().validate_response(response)
        except RestRetriableError as exc:
            raise RestRetriableError(f"{self.resource}: {exc}", response) from None
        except RestFatalError as exc:
            raise type(exc)(f"{self.resource}: {exc}") from None

    def get(self, url: str, params: dict[str, Any] | None = None) -> requests.Response:
        """One GET through the rate limit, token, backoff and error classification."""
        prepared = self.build_prepared_request(method="GET", url=url, params=params or {},
                                               headers=self.http_headers)
        response: requests.Response = self.request_decorator(self.send_request)(prepared, None)
        return response
