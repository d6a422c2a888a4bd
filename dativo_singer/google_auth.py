"""Google credentials for the Google taps: a service-account key (Google's JWT-bearer grant) or an
OAuth refresh token, both through `google-auth`.

A service-account key signs an RS256 assertion (``iss`` the key's ``client_email``, ``scope``,
``aud`` Google's token URL as Google documents, ``iat``/``exp`` one hour apart) that is posted
to the key's own ``token_uri`` for an access token; `GoogleAuth` asks for a new token before the current one
expires (google-auth treats a token as expired a few minutes early). Nothing here ever puts the
private key, the client secret, the refresh token or an access token into a message.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import google.auth.exceptions
import requests
from google.auth.credentials import Credentials
from google.auth.transport.requests import Request
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from singer_sdk import typing as th

from dativo_singer.errors import FatalError, RetriableError

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
DRIVE_READONLY = "https://www.googleapis.com/auth/drive.readonly"
DRIVE_METADATA_READONLY = "https://www.googleapis.com/auth/drive.metadata.readonly"
SHEETS_READONLY = "https://www.googleapis.com/auth/spreadsheets.readonly"

_KEY_FIELDS = ("client_email", "private_key", "token_uri")
_OAUTH_FIELDS = ("client_id", "client_secret", "refresh_token")

AUTH_PROPERTIES: list[th.Property] = [
    th.Property(
        "credentials_json",
        th.CustomType({"type": ["object", "string"]}),
        secret=True,
        description="A Google service-account key (the JSON file Google gives), as an object or "
        "its text; its `token_uri` receives the signed JWT-bearer assertion",
    ),
    th.Property(
        "client_id",
        th.StringType,
        description="OAuth client id, for user credentials (with `client_secret` and `refresh_token`)",
    ),
    th.Property("client_secret", th.StringType, secret=True, description="OAuth client secret"),
    th.Property("refresh_token", th.StringType, secret=True, description="OAuth refresh token"),
    th.Property(
        "token_uri",
        th.StringType,
        default=GOOGLE_TOKEN_URI,
        description="Token endpoint for the refresh-token grant (a service-account key names its own)",
    ),
]


def service_account_info(value: Any) -> dict[str, Any]:
    """The key as a dict from an object or its JSON text; one line (never the key) when it is not
    a service-account key."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise FatalError(
                f"credentials_json: not JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
            ) from None
    if not isinstance(value, dict):
        raise FatalError("credentials_json: expected a service-account key (a JSON object)")
    kind = value.get("type")
    if kind not in (None, "service_account"):
        raise FatalError(f"credentials_json: type is {kind!r}; a service-account key has 'service_account'")
    missing = [name for name in _KEY_FIELDS if not isinstance(value.get(name), str) or not value[name]]
    if missing:
        raise FatalError(f"credentials_json: missing {', '.join(missing)} (not a service-account key)")
    return value


def credentials_problems(config: Mapping[str, Any]) -> list[str]:
    """What is wrong with the credential settings (exactly one kind must be given, complete)."""
    given = [name for name in _OAUTH_FIELDS if config.get(name)]
    if config.get("credentials_json"):
        if given:
            return [f"credentials_json: give either a service-account key or {', '.join(_OAUTH_FIELDS)}"]
        try:
            service_account_info(config["credentials_json"])
        except FatalError as exc:
            return [str(exc)]
        return []
    if not given:
        return ["credentials_json: is required (or client_id, client_secret and refresh_token)"]
    missing = [name for name in _OAUTH_FIELDS if name not in given]
    return [f"{name}: is required with {', '.join(given)}" for name in missing]


def load_credentials(config: Mapping[str, Any], scopes: Sequence[str]) -> Credentials:
    """google-auth credentials for the config's key or refresh token, asking for ``scopes``."""
    problems = credentials_problems(config)
    if problems:
        raise FatalError("; ".join(problems))
    if config.get("credentials_json"):
        info = service_account_info(config["credentials_json"])
        try:
            return service_account.Credentials.from_service_account_info(info, scopes=list(scopes))
        except (ValueError, TypeError) as exc:
            # cryptography's messages name the problem, never the key's content.
            raise FatalError(
                f"credentials_json: private_key of {info['client_email']} cannot be loaded "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"
            ) from None
    return user_credentials.Credentials(
        token=None,
        refresh_token=config["refresh_token"],
        client_id=config["client_id"],
        client_secret=config["client_secret"],
        token_uri=config.get("token_uri") or GOOGLE_TOKEN_URI,
        scopes=list(scopes),
    )


def principal(credentials: Credentials) -> str:
    """Who the credentials act as, for messages: the service account's email or the client id."""
    email = getattr(credentials, "service_account_email", None)
    if email:
        return f"service account {email}"
    return f"OAuth client {getattr(credentials, 'client_id', '?')}"


class GoogleAuth:
    """Bearer headers for Google APIs, refreshing the access token before it expires."""

    def __init__(self, credentials: Credentials, session: requests.Session | None = None) -> None:
        self.credentials = credentials
        self._request = Request(session or requests.Session())
        self._lock = threading.Lock()
        self.fresh = False  # the last `headers` call got a new token (a 401 then is not an expiry)

    @property
    def token_uri(self) -> str:
        """Where tokens come from (the key's own ``token_uri``)."""
        credentials = self.credentials
        return str(getattr(credentials, "_token_uri", None) or getattr(credentials, "token_uri", ""))

    def refresh(self) -> None:
        """Get a new access token now; a refusal is fatal, an unreachable endpoint retriable."""
        try:
            self.credentials.refresh(self._request)
        except google.auth.exceptions.RefreshError as exc:
            detail = str(exc.args[0]) if exc.args else type(exc).__name__
            message = f"{self.token_uri}: token refused for {principal(self.credentials)}: {detail}"
            if getattr(exc, "retryable", False):
                raise RetriableError(message) from None
            raise FatalError(message) from None
        except google.auth.exceptions.TransportError as exc:
            raise RetriableError(f"{self.token_uri}: token endpoint unreachable ({exc})") from None

    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer ...`` with a token valid for a few more minutes at least."""
        with self._lock:
            self.fresh = not self.credentials.valid
            if self.fresh:
                self.refresh()
            return {"Authorization": f"Bearer {self.credentials.token}"}

    def invalidate(self) -> None:
        """Forget the current token (after a 401), so the next request gets a new one."""
        with self._lock:
            self.credentials.token = None
