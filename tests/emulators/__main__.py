"""Serve an API emulator on loopback until stopped: `python -m tests.emulators stripe --port 12111`.

The README's tour uses it to run the Stripe job without a Stripe account; the API key to use is
printed on start (the emulator accepts only that key, as Stripe accepts only the account's).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from tests.emulators.hubspot import TOKEN, HubSpotEmulator
from tests.emulators.server import Emulator, serve
from tests.emulators.stripe import API_KEY, StripeEmulator


def _emulator(name: str, count: int) -> tuple[Emulator, str]:
    if name == "stripe":
        return StripeEmulator(counts={"customers": count}), f"STRIPE_API_KEY={API_KEY}"
    return HubSpotEmulator(counts={"contacts": count}), f"HUBSPOT_ACCESS_TOKEN={TOKEN}"


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, serve, stop on SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.emulators",
        description="Serve a loopback emulator of a SaaS API (Stripe, HubSpot).",
        epilog="example: python -m tests.emulators stripe --port 12111 --count 250",
    )
    parser.add_argument("api", choices=("stripe", "hubspot"))
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--count", type=int, default=100, help="objects to seed (default 100)")
    args = parser.parse_args(argv)
    emulator, credential = _emulator(args.api, args.count)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with serve(emulator, args.port) as running:
        print(
            f"{args.api} emulator on {running.url} ({args.count} objects); credential {credential}",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
    sys.exit(0)


if __name__ == "__main__":
    main()
