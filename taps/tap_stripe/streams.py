"""Stripe list streams: newest-first pages of 100 with ``starting_after``, incremental on
``created`` with a resumable pass, and updates to known objects through the Events API."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import requests
from singer_sdk.authenticators import BearerTokenAuthenticator
from singer_sdk.pagination import BaseAPIPaginator

from dativo_singer.rest import DativoRESTStream
from dativo_singer.sdk_internals import StreamHooks
from dativo_singer.text_values import parse_datetime
from tap_stripe.schemas import stream_schema

PAGE_SIZE = 100
PASS_KEY = "pass"  # the created-pass in progress: {"lower", "upper", "max"} (epoch seconds)
EVENTS_KEY = "events_after"  # epoch seconds: events since then are read on the next run
EVENTS_OVERLAP_SECONDS = 60  # events are read again from this far back (clock skew, late writes)

# Stream -> the Stripe object name its events carry and the event types announcing its changes.
EVENT_TYPES: dict[str, tuple[str, str]] = {
    "customers": ("customer", "customer.*"),
    "charges": ("charge", "charge.*"),
    "invoices": ("invoice", "invoice.*"),
    "subscriptions": ("subscription", "customer.subscription.*"),
    "products": ("product", "product.*"),
    "prices": ("price", "price.*"),
    "payment_intents": ("payment_intent", "payment_intent.*"),
    "refunds": ("refund", "refund.*"),
}


def to_timestamp(epoch: int | float | None) -> str | None:
    """Epoch seconds as an ISO 8601 UTC timestamp."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).isoformat()


def to_epoch(value: str | datetime) -> int:
    """An ISO timestamp (or datetime) as epoch seconds."""
    moment = value if isinstance(value, datetime) else parse_datetime(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


class StripeCursorPaginator(BaseAPIPaginator[str | None]):
    """``starting_after`` = the last id of a page while ``has_more`` is true."""

    def __init__(self) -> None:
        super().__init__(None)

    def get_next(self, response: requests.Response) -> str | None:
        body = response.json()
        if body.get("has_more") and body.get("data"):
            return str(body["data"][-1]["id"])
        return None


class StripeStream(StreamHooks, DativoRESTStream):
    """One Stripe list endpoint (``/v1/<name>``)."""

    service_name = "Stripe"
    secret_setting = "api_key"
    primary_keys = ("id",)
    replication_key = "created"
    is_sorted = False  # Stripe lists are newest first
    STATE_MSG_FREQUENCY = 1000

    def __init__(self, tap: Any, name: str) -> None:
        self._pass: dict[str, Any] | None = None
        super().__init__(tap=tap, name=name, schema=stream_schema(name), path=f"/v1/{name}")

    @property
    def authenticator(self) -> BearerTokenAuthenticator:
        """``Authorization: Bearer <secret key>``."""
        return BearerTokenAuthenticator(token=self.config["api_key"])

    @property
    def http_headers(self) -> dict[str, Any]:
        """The pinned ``Stripe-Version``."""
        return {**super().http_headers, "Stripe-Version": self.config["stripe_version"]}

    def get_new_paginator(self) -> StripeCursorPaginator:
        return StripeCursorPaginator()

    def get_url_params(self, context: Any, next_page_token: str | None) -> dict[str, Any]:
        """``limit=100``, the pass's ``created`` bounds and ``starting_after``."""
        params: dict[str, Any] = {"limit": PAGE_SIZE}
        if self._pass is not None:
            if self._pass.get("lower") is not None:
                params["created[gte]"] = self._pass["lower"]
            if self._pass.get("upper") is not None:
                params["created[lte]"] = self._pass["upper"]
            if self._end() is not None:
                params["created[lt]"] = self._end()
        if next_page_token:
            params["starting_after"] = next_page_token
        return params

    def post_process(self, row: dict[str, Any], context: Any = None) -> dict[str, Any] | None:
        """``created`` as a timestamp."""
        row["created"] = to_timestamp(row.get("created"))
        return row

    def parse_response(self, response: requests.Response) -> Iterator[dict[str, Any]]:
        """The page's objects; once all of them are processed, the pass moves past the page."""
        data = response.json().get("data") or []
        created = [int(obj["created"]) for obj in data]
        yield from data
        if data and self._pass is not None:
            # Everything newer than the page's oldest object has been emitted (objects sharing
            # that second are read again after a restart; the target merges them on id).
            self._pass["upper"] = min(created)
            self._pass["max"] = max([*created, self._pass.get("max") or 0])

    def increment_state(self, latest_record: dict[str, Any], *, context: Any = None) -> None:
        """The bookmark is kept by the pass (see ``get_records``), not per record: the records
        arrive newest first, and updated objects from events carry old ``created`` values."""

    # -- the sync -------------------------------------------------------------------------------

    def _lower_bound(self, context: Any) -> int | None:
        start = self.get_starting_timestamp(context)
        if start is None:
            return None
        lookback = int(self.config.get("lookback_days") or 0)
        lower = to_epoch(start - timedelta(days=lookback))
        # A time window (end_date given) never reads before its start, look-back included.
        floor = self.config.get("start_date") if self.config.get("end_date") else None
        return max(lower, to_epoch(str(floor))) if floor else lower

    def get_records(self, context: Any) -> Iterable[dict[str, Any]]:
        """A pass over ``created`` from the bookmark (minus ``lookback_days``), resumable from
        the last STATE; then the objects changed since the last run, from the Events API."""
        if not self.replication_key:  # FULL_TABLE
            yield from self.request_records(context)
            return
        state = self.stream_state
        run_started = int(time.time())
        events_after = state.get(EVENTS_KEY)
        resumed = state.get(PASS_KEY)
        if resumed:
            self.logger.info(
                "%s: resuming the pass at created <= %s", self.name, to_timestamp(resumed.get("upper"))
            )
        self._pass = (
            dict(resumed) if resumed else {"lower": self._lower_bound(context), "upper": None, "max": None}
        )
        state[PASS_KEY] = self._pass
        yield from self.request_records(context)
        if events_after is not None and self.name in EVENT_TYPES:
            yield from self._changed_objects(int(events_after) - EVENTS_OVERLAP_SECONDS)
        done = self._pass
        self._pass = None
        state.pop(PASS_KEY, None)
        bookmark = max(filter(None, [done.get("max"), self._bookmark_epoch()]), default=None)
        if bookmark is not None:
            state["replication_key"] = self.replication_key
            state["replication_key_value"] = to_timestamp(bookmark)
        state[EVENTS_KEY] = run_started

    def _end(self) -> int | None:
        """``end_date`` in epoch seconds (None: no end)."""
        end = self.config.get("end_date")
        return to_epoch(str(end)) if end else None

    def _in_window(self, snapshot: dict[str, Any]) -> bool:
        """A changed object created inside ``start_date``..``end_date`` (a window's own)."""
        created = int(snapshot.get("created") or 0)
        start, end = self.config.get("start_date"), self._end()
        return (start is None or created >= to_epoch(str(start))) and (end is None or created < end)

    def _bookmark_epoch(self) -> int | None:
        value = self.stream_state.get("replication_key_value")
        return to_epoch(value) if value else None

    def _changed_objects(self, since: int) -> Iterator[dict[str, Any]]:
        """The newest snapshot of every object of this stream in an event since ``since``."""
        object_name, event_type = EVENT_TYPES[self.name]
        seen: set[str] = set()
        count = 0
        for event in EventsReader(self, event_type, since).events():
            snapshot = (event.get("data") or {}).get("object") or {}
            if snapshot.get("object") != object_name or event.get("type", "").endswith(".deleted"):
                continue
            if snapshot.get("id") in seen:  # events come newest first: the first is the latest
                continue
            if self.config.get("end_date") and not self._in_window(snapshot):
                continue  # another time window's object
            seen.add(snapshot["id"])
            count += 1
            yield snapshot
        self.logger.info(
            "%s: %d objects changed since %s (Events API)", self.name, count, to_timestamp(since)
        )


class EventsReader:
    """Pages of ``/v1/events?type=<pattern>&created[gte]=<since>`` through the stream's own
    request machinery (rate limit, backoff, error classification)."""

    def __init__(self, stream: StripeStream, event_type: str, since: int) -> None:
        self.stream = stream
        self.event_type = event_type
        self.since = since

    def events(self) -> Iterator[dict[str, Any]]:
        """Every matching event, newest first."""
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": PAGE_SIZE, "type": self.event_type, "created[gte]": self.since}
            if after:
                params["starting_after"] = after
            body = self.stream.request_json("GET", "/v1/events", params=params)
            data = body.get("data") or []
            yield from data
            if not body.get("has_more") or not data:
                return
            after = data[-1]["id"]
