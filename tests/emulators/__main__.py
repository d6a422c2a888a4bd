"""Serve an API emulator on loopback until stopped: `python -m tests.emulators stripe --port 12111`.

The README's tour uses it to run the Stripe job without a Stripe account; the API key to use is
printed on start (the emulator accepts only that key, as Stripe accepts only the account's).
`google` serves the Drive/Sheets emulator seeded as the tests seed it (a folder of deals CSV files,
a vendors spreadsheet) and writes ready tap configs (with a fresh service-account key) to
``--config-dir``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path

from tests.emulators.google import GoogleEmulator
from tests.emulators.hubspot import TOKEN, HubSpotEmulator
from tests.emulators.server import Emulator, serve
from tests.emulators.stripe import API_KEY, StripeEmulator
from tests.helpers.google import drive_config, populate, sheets_config


def _emulator(name: str, count: int) -> tuple[Emulator, str]:
    if name == "stripe":
        return StripeEmulator(counts={"customers": count}), f"STRIPE_API_KEY={API_KEY}"
    if name == "google":
        return GoogleEmulator(), ""
    return HubSpotEmulator(counts={"contacts": count}), f"HUBSPOT_ACCESS_TOKEN={TOKEN}"


def _google_configs(emulator: GoogleEmulator, folder: Path) -> str:
    """Seed the running Google emulator; write tap-gdrive-csv.json and tap-google-sheets.json."""
    data = populate(emulator)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, config in (("tap-gdrive-csv", drive_config(data)), ("tap-google-sheets", sheets_config(data))):
        path = folder / f"{name}.json"
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)  # holds the emulator's service-account key
        written.append(str(path))
    return "configs " + ", ".join(written)


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, serve, stop on SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.emulators",
        description="Serve a loopback emulator of a SaaS API (Stripe, HubSpot, Google Drive/Sheets).",
        epilog="example: python -m tests.emulators stripe --port 12111 --count 250",
    )
    parser.add_argument("api", choices=("stripe", "hubspot", "google"))
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--count", type=int, default=100, help="objects to seed (default 100)")
    parser.add_argument(
        "--config-dir", type=Path, default=Path("."), help="google: where the tap configs go (default .)"
    )
    args = parser.parse_args(argv)
    emulator, credential = _emulator(args.api, args.count)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with serve(emulator, args.port) as running:
        if isinstance(running, GoogleEmulator):
            print(
                f"google emulator on {running.url}; {_google_configs(running, args.config_dir)}", flush=True
            )
        else:
            print(
                f"{args.api} emulator on {running.url} ({args.count} objects); credential {credential}",
                flush=True,
            )
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
    sys.exit(0)


if __name__ == "__main__":
    main()
