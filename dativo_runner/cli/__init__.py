"""The `dativo` command line: one module per command; errors are printed here, once."""

from __future__ import annotations

import argparse
import sys

from dativo_runner import __version__
from dativo_runner.cli import inspect, maintain, run, show, start, state, validate
from dativo_runner.cli.common import print_error
from dativo_runner.errors import EXIT_FAILURE, DativoError
from dativo_runner.secrets import Redactor


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="dativo",
        description="Config-driven ingestion engine: Singer taps piped into Singer targets.",
        epilog="example: dativo run --config jobs/acme/csv_deals_to_iceberg.yaml",
    )
    parser.add_argument("--version", action="version", version=f"dativo {__version__}")
    sub = parser.add_subparsers(dest="command_name", required=True)
    for module in (run, validate, show, maintain, start, state, inspect):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `dativo` console script."""
    args = build_parser().parse_args(argv)
    redactor = Redactor()  # learns every secret the command loads; all output passes through it
    try:
        code = args.command(args, redactor)
    except DativoError as exc:
        for problem in exc.problems:
            print_error(str(problem), redactor)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = EXIT_FAILURE
    except Exception as exc:  # a bug or an unexpected environment: still one line, exit 2
        print_error(f"unexpected {type(exc).__name__}: {exc}", redactor)
        code = EXIT_FAILURE
    sys.exit(code)
