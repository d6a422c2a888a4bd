"""singer-sdk's standard tap tests for tap-stripe and tap-hubspot, against the loopback emulators
(started once for the module: the test classes are built at import)."""

from __future__ import annotations

from contextlib import ExitStack

from singer_sdk.testing import get_tap_test_class
from tap_hubspot.tap import TapHubSpot
from tap_stripe.tap import TapStripe

from tests.emulators.hubspot import TOKEN, HubSpotEmulator
from tests.emulators.server import serve
from tests.emulators.stripe import API_KEY, RESOURCES, StripeEmulator
from tests.helpers.saas import FAST_RETRIES

_servers = ExitStack()  # daemon threads, gone with the test process
_stripe = _servers.enter_context(serve(StripeEmulator({name: 12 for name in RESOURCES if name != "events"})))
_stripe.update("customers", _stripe.objects["customers"][0]["id"], {"name": "Renamed"})  # one event
_hubspot = _servers.enter_context(serve(HubSpotEmulator({"contacts": 25, "companies": 8, "deals": 10})))

TestTapStripe = get_tap_test_class(
    tap_class=TapStripe,
    config={"api_key": API_KEY, "api_url": _stripe.url, **FAST_RETRIES, "request_timeout_seconds": 5},
)

TestTapHubSpot = get_tap_test_class(
    tap_class=TapHubSpot,
    config={"access_token": TOKEN, "api_url": _hubspot.url, **FAST_RETRIES, "request_timeout_seconds": 5},
)


def teardown_module() -> None:
    """Stop the emulators while the interpreter still runs their threads (a server shut down
    during interpreter exit would wait forever)."""
    _servers.close()
