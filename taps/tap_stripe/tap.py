"""TapStripe: the singer-sdk Tap class and the `tap-stripe` console script."""

from __future__ import annotations

from singer_sdk import Stream
from singer_sdk import typing as th

from dativo_singer.cli import run_tap_cli
from dativo_singer.errors import FatalError
from dativo_singer.rest import rest_properties
from dativo_singer.sdk_internals import ConfigCheck, StopAtOnce
from dativo_singer.settings import emit_activate_version_property
from dativo_singer.tap_policy import PolicyTap
from tap_stripe.schemas import STREAM_NAMES
from tap_stripe.streams import StripeStream

DEFAULT_API_URL = "https://api.stripe.com"
DEFAULT_STRIPE_VERSION = "2024-06-20"
# Stripe allows 100 read requests per second in live mode and 25 in test mode.
DEFAULT_REQUESTS_PER_SECOND = 20.0


class TapStripe(StopAtOnce, ConfigCheck, PolicyTap):
    """Stripe objects: customers, charges, invoices, subscriptions, products, prices,
    payment_intents, refunds, balance_transactions and events."""

    name = "tap-stripe"
    package_name = "dativo-ingest"
    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType,
            required=True,
            secret=True,
            description="Secret or restricted API key (sk_... / rk_...)",
        ),
        th.Property(
            "start_date", th.DateTimeType, description="Objects created from this moment on (default: all)"
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            description="Objects created before this moment only (created[lt]; changed objects from "
            "events too): with start_date, one time window, never read before start_date even with "
            "lookback_days (default: no end)",
        ),
        th.Property(
            "stripe_version",
            th.StringType,
            default=DEFAULT_STRIPE_VERSION,
            description="Stripe-Version header: the API version the schemas follow",
        ),
        th.Property(
            "lookback_days",
            th.IntegerType,
            default=0,
            description="Read objects created this many days before the bookmark again",
        ),
        *rest_properties(DEFAULT_API_URL, DEFAULT_REQUESTS_PER_SECOND),
        emit_activate_version_property(default=True),
    ).to_dict()

    def check_config(self) -> None:
        """Every problem in one line (singer-sdk would print a traceback)."""
        errors = self.schema_problems()
        if "api_key" in self.config and not str(self.config["api_key"] or "").strip():
            errors.append("api_key: is required")
        if errors:
            raise FatalError("; ".join(dict.fromkeys(errors)))

    def discover_streams(self) -> list[Stream]:
        """One stream per Stripe list endpoint."""
        return [StripeStream(self, name) for name in STREAM_NAMES]


def main() -> None:
    """Console script `tap-stripe`."""
    run_tap_cli("tap-stripe", TapStripe)
