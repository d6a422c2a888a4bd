"""Console-script wrapper: run a singer-sdk plugin and turn our errors into one stderr line."""

from __future__ import annotations

import sys
from collections.abc import Callable

from dativo_singer.errors import DativoSingerError, FatalError

EXIT_FATAL = 2
EXIT_RETRIABLE = 75  # EX_TEMPFAIL: the caller may try again


def run_plugin_cli(name: str, command: Callable[[], object]) -> None:
    """Run ``command`` (a singer-sdk click command); print our errors as ``name: error: ...``."""
    try:
        command()
    except DativoSingerError as exc:
        sys.stdout.flush()
        sys.stderr.write(f"{name}: error: {exc}\n")
        sys.stderr.flush()
        sys.exit(EXIT_FATAL if isinstance(exc, FatalError) else EXIT_RETRIABLE)
