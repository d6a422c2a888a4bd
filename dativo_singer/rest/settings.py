"""Settings every REST tap shares: where the API is, how fast to call it, how long to retry."""

from __future__ import annotations

from singer_sdk import typing as th

DEFAULT_MAX_TRIES = 8
DEFAULT_BACKOFF_BASE_SECONDS = 1.0
DEFAULT_MAX_BACKOFF_SECONDS = 60.0
DEFAULT_MAX_RETRY_AFTER_SECONDS = 300.0
DEFAULT_TIMEOUT_SECONDS = 60.0


def rest_properties(default_url: str, default_rate: float) -> list[th.Property]:
    """``api_url``, ``max_requests_per_second`` and the retry settings, with a tap's defaults."""
    return [
        th.Property(
            "api_url",
            th.StringType,
            default=default_url,
            description="Base URL of the API (a proxy or an emulator may stand in)",
        ),
        th.Property(
            "max_requests_per_second",
            th.NumberType(minimum=0),
            default=default_rate,
            description="Client-side request rate limit shared by all streams (0: none)",
        ),
        th.Property(
            "max_tries",
            th.IntegerType(minimum=1),
            default=DEFAULT_MAX_TRIES,
            description="Attempts per request on 429, 5xx, timeouts and dropped connections",
        ),
        th.Property(
            "backoff_base_seconds",
            th.NumberType(minimum=0),
            default=DEFAULT_BACKOFF_BASE_SECONDS,
            description="First retry wait; doubled per attempt, with jitter",
        ),
        th.Property(
            "max_backoff_seconds",
            th.NumberType(minimum=0),
            default=DEFAULT_MAX_BACKOFF_SECONDS,
            description="Longest wait between two attempts",
        ),
        th.Property(
            "max_retry_after_seconds",
            th.NumberType(minimum=0),
            default=DEFAULT_MAX_RETRY_AFTER_SECONDS,
            description="A 429 asking to wait longer than this (a daily limit) stops the tap "
            "with an error instead of waiting",
        ),
        th.Property(
            "request_timeout_seconds",
            th.NumberType(exclusive_minimum=0),
            default=DEFAULT_TIMEOUT_SECONDS,
            description="Seconds to wait for an answer before the request is retried",
        ),
    ]
