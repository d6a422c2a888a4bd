"""Errors of REST taps: singer-sdk's API errors that are also Dativo's fatal/retriable errors,
so a tap's console script exits 2 or 75 with one line (`dativo_singer.cli`)."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from dativo_singer.errors import FatalError, RetriableError

_MAX_DETAIL = 300


class RestFatalError(FatalAPIError, FatalError):
    """Retrying cannot help: bad credentials, a missing permission, a bad request."""


class RestRetriableError(RetriableAPIError, RetriableError):
    """A transient failure (429, 5xx, timeout, dropped connection): backoff retries it; if the
    retries run out the tap exits 75 and the run can be repeated."""


class RateLimitExhaustedError(RestFatalError):
    """The API's quota is spent for longer than the tap may wait (a daily limit)."""


def mask_secret(secret: str | None) -> str:
    """``****`` followed by at most the last 4 characters (none of a short secret)."""
    if not secret:
        return "(empty)"
    return "****" + (secret[-4:] if len(secret) >= 12 else "")


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def api_message(response: requests.Response) -> str:
    """The API's own error message: Stripe's ``error.message``, HubSpot's ``message``, or the
    start of the body."""
    body = _body(response)
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:_MAX_DETAIL]
        for key in ("message", "error_description", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])[:_MAX_DETAIL]
        return json.dumps(body)[:_MAX_DETAIL]
    return (response.text or response.reason or "").strip()[:_MAX_DETAIL]


def redact(text: str, secrets: list[str]) -> str:
    """``text`` with every secret (and its masked form's source) replaced by its mask."""
    for secret in secrets:
        if secret and len(secret) >= 4 and secret in text:
            text = text.replace(secret, mask_secret(secret))
    return text


def describe(response: requests.Response, service: str, path: str) -> str:
    """``<service> GET /v1/customers: HTTP 500 Internal Server Error: <message>``."""
    method = response.request.method if response.request is not None else "GET"
    reason = response.reason or HTTPStatus(response.status_code).phrase
    return f"{service} {method} {path}: HTTP {response.status_code} {reason}: {api_message(response)}"
