"""Stopping a tap or target on SIGTERM/SIGINT without the singer-sdk default.

singer-sdk's handler makes a target drain every sink (committing records no STATE covers) and
makes a tap exit 0 half-way through its streams, so a stopped run looks complete. Dativo's
programs stop at once with exit code 128 + the signal instead.
"""

from __future__ import annotations

import logging
import os
import signal
import sys


def stop_now(logger: logging.Logger, signum: int, what: str) -> None:
    """Log ``Received SIGTERM: <what>``, flush stdout (whole Singer lines) and exit 128+signum."""
    logger.warning("Received %s: %s", signal.Signals(signum).name, what)
    sys.stdout.flush()
    os._exit(128 + signum)
