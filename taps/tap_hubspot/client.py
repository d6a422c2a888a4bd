"""HubSpotStream: the base of every HubSpot stream (bearer token, HubSpot's rate-limit headers,
its daily limit)."""

from __future__ import annotations

from typing import Any

import requests
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.pagination import BaseAPIPaginator

from dativo_singer.rest import DativoRESTStream

DAILY_POLICY = "DAILY"


class HubSpotAfterPaginator(BaseAPIPaginator[str | None]):
    """``after`` = ``paging.next.after`` until it is absent."""

    def __init__(self) -> None:
        super().__init__(None)

    def get_next(self, response: requests.Response) -> str | None:
        paging = response.json().get("paging") or {}
        after = (paging.get("next") or {}).get("after")
        return str(after) if after else None


class HubSpotStream(DativoRESTStream):
    """A HubSpot endpoint with private-app token auth."""

    service_name = "HubSpot"
    secret_setting = "access_token"
    records_jsonpath = "$.results[*]"

    @property
    def authenticator(self) -> BearerTokenAuthenticator:
        """``Authorization: Bearer <private app token>``."""
        return BearerTokenAuthenticator(token=self.config["access_token"])

    def get_new_paginator(self) -> HubSpotAfterPaginator:
        return HubSpotAfterPaginator()

    def parse_response(self, response: requests.Response) -> Any:
        """``results`` of a page."""
        yield from response.json().get("results") or []

    def _interval_seconds(self, response: requests.Response) -> float | None:
        interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        return int(interval) / 1000 if interval and interval.isdigit() else None

    def server_wait(self, response: requests.Response) -> float | None:
        """``Retry-After`` when sent; on a 429, the rest of the rate window
        (``X-HubSpot-RateLimit-Interval-Milliseconds``), at most ``max_backoff_seconds``."""
        asked = super().server_wait(response)
        if asked is not None or response.status_code != 429:
            return asked
        interval = self._interval_seconds(response)
        return min(interval, self._max_backoff) if interval is not None else None

    def pause_after(self, response: requests.Response) -> float | None:
        """When ``X-HubSpot-RateLimit-Remaining`` reaches 0, wait for the next window."""
        if response.headers.get("X-HubSpot-RateLimit-Remaining") == "0":
            return self._interval_seconds(response)
        return None

    def quota_exhausted(self, response: requests.Response) -> str | None:
        """HubSpot's daily limit (``policyName: DAILY``) cannot be waited out."""
        try:
            body = response.json()
        except ValueError:
            return None
        if isinstance(body, dict) and body.get("policyName") == DAILY_POLICY:
            return (
                "the account's daily API limit is spent (X-HubSpot-RateLimit-Daily-Remaining "
                f"{response.headers.get('X-HubSpot-RateLimit-Daily-Remaining', '0')}); it resets at "
                "midnight in the account's time zone"
            )
        return None
