"""The shared REST layer of Dativo's API taps: one error classification, bounded backoff that
honours the server's rate-limit answers, a client-side request rate limit, and secrets kept out
of every message (see docs/REST.md)."""

from dativo_singer.rest.errors import RestFatalError, RestRetriableError, mask_secret
from dativo_singer.rest.rate_limit import RequestRateLimiter
from dativo_singer.rest.settings import rest_properties
from dativo_singer.rest.stream import DativoRESTStream

__all__ = [
    "DativoRESTStream",
    "RequestRateLimiter",
    "RestFatalError",
    "RestRetriableError",
    "mask_secret",
    "rest_properties",
]
