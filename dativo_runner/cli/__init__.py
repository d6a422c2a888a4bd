"""The `dativo` command line: one module per command; errors are printed here, once.

Global options (``--log-format``) are defined here and accepted before or after the subcommand.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from dativo_runner import __version__
from dativo_runner.cli import (
    check,
    completion,
    connectors,
    discover,
    generate,
    inspect,
    maintain,
    run,
    runs,
    show,
    start,
    state,
    validate,
)
from dativo_runner.cli.common import print_error
from dativo_runner.cli.source_options import unreadable_registry, use_command_line
from dativo_runner.errors import EXIT_FAILURE, EXIT_OK, DativoError
from dativo_runner.log_lines import ENV_VAR, FORMATS, configure, emit, is_json
from dativo_runner.secrets import Redactor

EXAMPLES = """examples:
  dativo validate --all
  dativo check --config jobs/acme/postgres_orders_to_iceberg.yaml
  dativo run --config jobs/acme/csv_deals_to_iceberg.yaml
  dativo --log-format json run --job-dir jobs/acme --secrets-dir secrets
  dativo completion bash > ~/.local/share/bash-completion/completions/dativo"""


class DativoParser(argparse.ArgumentParser):
    """An argument parser whose usage errors follow ``--log-format`` (exit 2 either way)."""

    def error(self, message: str) -> NoReturn:
        """A JSON error object in JSON format, else argparse's usage and message; an option
        refused because the registry that declares the source options is unreadable is that
        registry's error."""
        registry_error = unreadable_registry()
        if registry_error is not None and message.startswith("unrecognized arguments"):
            for problem in registry_error.problems:
                print_error(str(problem))
            sys.exit(EXIT_FAILURE)
        if is_json():
            emit("error", "usage_error", f"{self.prog}: {message}")
            sys.exit(EXIT_FAILURE)
        super().error(message)


def _add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    parser.add_argument(
        "--log-format",
        choices=FORMATS,
        default=None if top else argparse.SUPPRESS,
        help=f"stderr lines as plain text or one JSON object per line (default: ${ENV_VAR} or text)",
    )


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The argument parser of every subcommand; ``argv`` (the arguments it will parse) names the
    home whose registered sources give `discover` and `generate config` their source options."""
    use_command_line(argv)
    parser = DativoParser(
        prog="dativo",
        description="Config-driven ingestion engine: Singer taps piped into Singer targets.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dativo {__version__}")
    _add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command_name", required=True, metavar="COMMAND")
    modules = [run, validate, check, show, maintain, start, discover, generate, state, inspect]
    modules += [runs, connectors, completion]
    for module in modules:
        module.add_parser(sub)
    sub.choices["completion"].set_defaults(build_parser=build_parser)
    _add_to_subcommands(sub)
    return parser


def _add_to_subcommands(sub: argparse._SubParsersAction[Any]) -> None:
    """The global options on every subcommand, nested ones too (``generate config``)."""
    for subparser in sub.choices.values():
        _add_global_options(subparser, top=False)
        for action in subparser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_to_subcommands(action)


def _log_format(argv: Sequence[str]) -> str:
    """The format asked for before parsing (so usage errors follow it too)."""
    chosen = os.environ.get(ENV_VAR) or "text"
    for index, arg in enumerate(argv):
        if arg == "--log-format" and index + 1 < len(argv):
            chosen = argv[index + 1]
        elif arg.startswith("--log-format="):
            chosen = arg.partition("=")[2]
    return chosen if chosen in FORMATS else "text"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `dativo` console script."""
    arguments = sys.argv[1:] if argv is None else argv
    redactor = Redactor()  # learns every secret the command loads; all output passes through it
    configure(_log_format(arguments), redactor)
    if (os.environ.get(ENV_VAR) or "text") not in FORMATS:
        print_error(f"{ENV_VAR}: {os.environ[ENV_VAR]!r} is not one of {', '.join(FORMATS)}")
        sys.exit(EXIT_FAILURE)
    args: Any = build_parser(arguments).parse_args(arguments)
    try:
        code = args.command(args, redactor)
    except DativoError as exc:
        for problem in exc.problems:
            print_error(str(problem), redactor)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = EXIT_FAILURE
    except BrokenPipeError:  # `dativo show ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_OK
    except Exception as exc:  # a bug or an unexpected environment: still one line, exit 2
        print_error(f"unexpected {type(exc).__name__}: {exc}", redactor)
        code = EXIT_FAILURE
    sys.exit(code)
