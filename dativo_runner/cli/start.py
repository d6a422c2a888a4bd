"""`dativo start orchestrated`: the runner YAML's schedules on a Dagster webserver and daemon."""

from __future__ import annotations

import argparse
import os
from typing import Any

from dativo_runner.assets import placeholder_warnings
from dativo_runner.cli.common import home_of, print_warning, say
from dativo_runner.errors import ConfigError
from dativo_runner.secrets import Redactor

DEFAULT_HOST = os.environ.get("DATIVO_UI_HOST") or "127.0.0.1"  # the image sets 0.0.0.0
DEFAULT_PORT = 3000


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    start = sub.add_parser(
        "start",
        help="start the orchestrator (Dagster webserver and daemon) on the runner YAML's schedules",
        description=(
            "Validate the runner YAML and every job it schedules, then run Dagster's webserver and "
            "daemon with a persistent instance under the state folder until SIGTERM or Ctrl-C."
        ),
        epilog="example: dativo start orchestrated --runner-config configs/runner.yaml --port 3000",
    )
    start.add_argument("mode_name", choices=["orchestrated"], metavar="orchestrated")
    start.add_argument(
        "--runner-config",
        help="runner YAML (default: $DATIVO_RUNNER_CONFIG, else <home>/configs/runner.yaml)",
    )
    start.add_argument("--host", default=DEFAULT_HOST, help=f"webserver address (default {DEFAULT_HOST})")
    start.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"webserver port (default {DEFAULT_PORT})"
    )
    start.add_argument("--home", help="project home (default: $DATIVO_HOME or the current directory)")
    start.set_defaults(command=command_start)


def _say(text: str) -> None:
    say(text, event="orchestrator")


def command_start(args: argparse.Namespace, redactor: Redactor) -> int:
    """Validate everything, then serve until stopped."""
    try:
        from dativo_runner.orchestration.runner_yaml import load_runner_config, runner_config_path
        from dativo_runner.orchestration.supervisor import serve
    except ImportError as exc:
        raise ConfigError(
            f"orchestrated mode needs Dagster: pip install 'dativo-ingest[orchestration]' ({exc})"
        ) from None
    home = home_of(args)
    config = load_runner_config(runner_config_path(args.runner_config, home), home)
    for scheduled in config.schedules:
        for warning in placeholder_warnings(scheduled.job.asset) if scheduled.job else []:
            print_warning(warning, redactor)
        if scheduled.problem:
            print_warning(f"schedule {scheduled.name} not started: {scheduled.problem}", redactor)
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port: {args.port} is not a TCP port")
    return serve(config, args.host, args.port, say=_say)
