"""Console-script wrapper: run a singer-sdk plugin and turn our errors into one stderr line."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dativo_singer.errors import DativoSingerError, FatalError

EXIT_FATAL = 2
EXIT_RETRIABLE = 75  # EX_TEMPFAIL: the caller may try again
LOG_DIR_VARIABLE = "DATIVO_LOG_DIR"  # where an internal error's traceback is written


def use_jemalloc_for_arrow() -> None:
    """A program that uses Arrow (it imported pyarrow when it loaded) allocates Arrow memory from
    jemalloc, unless ``ARROW_DEFAULT_MEMORY_POOL`` chooses (as ``dativo run`` does, before the
    program starts, which also covers Arrow's own C++ allocations): Arrow's default (mimalloc)
    kept freed memory (docs/ARCHITECTURE.md). Without jemalloc in the build, the default stays."""
    arrow = sys.modules.get("pyarrow")
    if arrow is None or os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    with contextlib.suppress(NotImplementedError, AttributeError):  # a build without jemalloc
        arrow.set_memory_pool(arrow.jemalloc_memory_pool())


def run_plugin_cli(name: str, command: Callable[[], object]) -> None:
    """Run ``command`` (a singer-sdk click command); print our errors as ``name: error: ...``."""
    use_jemalloc_for_arrow()
    try:
        command()
    except SystemExit as exc:
        if exc.code in (0, None) and _called_by_the_program():
            exit_without_teardown()
        raise
    except DativoSingerError as exc:
        # A driver's destructor finishing a read on the connection that just failed (PyMySQL's
        # unbuffered result after a KILL) would print "Exception ignored in ..." with a
        # traceback after the one line: the process is ending on this error, so stay quiet.
        sys.unraisablehook = _ignore_unraisable
        sys.stdout.flush()
        sys.stderr.write(f"{name}: error: {exc}\n")
        sys.stderr.flush()
        sys.exit(EXIT_FATAL if isinstance(exc, FatalError) else EXIT_RETRIABLE)
    except Exception as exc:  # not the user's mistake: one line, the traceback in a log file
        log = _write_traceback(name)
        first = (str(exc).strip().splitlines() or [""])[0]
        sys.stdout.flush()
        sys.stderr.write(
            f"{name}: error: internal error in {name}: {type(exc).__name__}: {first} (traceback in {log})\n"
        )
        sys.stderr.flush()
        sys.exit(EXIT_FATAL)


def _called_by_the_program() -> bool:
    """True when the plugin's console-script function was called by the program's top level (a
    console script, ``python -c``, ``python -m``), not by code that goes on after it (such as
    scripts/gen_reference.py, which runs every ``--about`` in its own process)."""
    frame = sys._getframe(1)
    here = frame.f_code.co_filename
    while frame.f_back is not None and frame.f_code.co_filename == here:
        frame = frame.f_back  # this module's wrappers
    if frame.f_code.co_name == "main" and frame.f_back is not None:
        frame = frame.f_back  # the plugin's console-script function
    return frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__"


def exit_without_teardown() -> None:
    """Exit 0 now that the program's work is done: standard output (the Singer messages) and
    the logs flushed, the interpreter's teardown skipped (it frees every object and module one
    by one: ~0.1 CPU-s for a tap that has moved 1M rows, benchmarks/README.md). Every file and
    connection is closed by then, every background write awaited. Returns (and the usual exit
    follows) when the output cannot be flushed, so that failure is reported as before."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    logging.shutdown()
    os._exit(0)


def _write_traceback(name: str) -> str:
    """The current exception's traceback in a private file under ``DATIVO_LOG_DIR`` (the
    runner's logs folder), else the system's temporary folder; its path."""
    folder = Path(os.environ.get(LOG_DIR_VARIABLE) or Path(tempfile.gettempdir()) / "dativo-logs")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = folder / f"{name}-{stamp}-{os.getpid()}.log"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(traceback.format_exc())
    except OSError:
        traceback.print_exc()  # no file: the traceback goes to stderr instead
        return "stderr"
    return str(path)


def _ignore_unraisable(unraisable: Any) -> None:
    """An ``sys.unraisablehook`` that prints nothing."""


def _config_paths(argv: list[str]) -> list[str]:
    """The files given with ``--config PATH`` or ``--config=PATH`` (not ``ENV``)."""
    paths = [value for flag, value in itertools.pairwise(argv) if flag == "--config"]
    paths += [arg.split("=", 1)[1] for arg in argv if arg.startswith("--config=")]
    return [path for path in paths if path != "ENV"]


def check_config_files(argv: list[str]) -> None:
    """Each config file exists and holds a JSON object, else one line naming it (singer-sdk
    would print a traceback)."""
    for path in _config_paths(argv):
        try:
            value = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FatalError(f"{path}: config file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise FatalError(f"{path}: cannot read the config file ({exc})") from None
        except json.JSONDecodeError as exc:
            raise FatalError(
                f"{path}: line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}"
            ) from None
        if not isinstance(value, dict):
            raise FatalError(f"{path}: expected a JSON object, got {type(value).__name__}")


def run_tap_cli(name: str, tap_class: Any) -> None:
    """A tap's console script: its config files checked (one line each), then singer-sdk's CLI,
    with our errors printed as one line."""

    def command() -> None:
        check_config_files(sys.argv[1:])
        tap_class.cli()

    run_plugin_cli(name, command)
