"""`dativo connectors`: the registry's connectors, what each can do and whether it is installed."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dativo_runner.cli.common import home_of
from dativo_runner.errors import EXIT_OK, ConfigError, Problem
from dativo_runner.executables import find_executable
from dativo_runner.registry import ConnectorEntry, Registry
from dativo_runner.secrets import Redactor
from dativo_runner.terminal_text import fit


def add_parser(sub: Any) -> None:
    """Register the subcommand."""
    connectors = sub.add_parser(
        "connectors",
        help="list the registry's connectors and what each can do",
        description="Every source and target of registry/connectors.yaml: its kind, what it "
        "does, incremental strategies, modes, auth methods, and its program (installed or not).",
        epilog="examples:\n  dativo connectors\n  dativo connectors --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    connectors.add_argument("--json", action="store_true", help="one JSON object")
    connectors.add_argument("--home", help="project home (default: $DATIVO_HOME or the current directory)")
    connectors.set_defaults(command=command_connectors)


def _as_dict(entry: ConnectorEntry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "role": entry.role,
        "category": entry.category,
        "description": entry.description,
        "incremental_strategies": list(entry.incremental_strategies),
        "modes": list(entry.modes),
        "auth_methods": list(entry.auth_methods),
        "program": entry.executable,
        "installed": find_executable(entry.executable) is not None,
    }


def _line(data: dict[str, Any]) -> str:
    can = [data["description"]] if data["description"] else []
    if data["incremental_strategies"]:
        can.append(f"incremental: {', '.join(data['incremental_strategies'])}")
    can.append(f"modes: {', '.join(data['modes'])}")
    can.append(f"auth: {', '.join(data['auth_methods'])}")
    program = data["program"] + ("" if data["installed"] else " (not installed)")
    return f"  {data['name']} ({data['category']}, {program}): {'; '.join(can)}"


def command_connectors(args: argparse.Namespace, redactor: Redactor) -> int:
    """Sources then targets, one line each (or one JSON object)."""
    home = home_of(args)
    if not home.registry.is_file():
        raise ConfigError([Problem(home.display(home.registry), "", home.not_found())])
    registry = Registry.load(home.registry, home.display(home.registry))
    groups = {
        "sources": [_as_dict(e) for e in registry.sources.values()],
        "targets": [_as_dict(e) for e in registry.targets.values()],
    }
    if args.json:
        print(json.dumps(groups))
        return EXIT_OK
    lines = []
    for title, entries in groups.items():
        lines.append(f"{title} ({len(entries)}):")
        lines.extend(_line(entry) for entry in entries)
    print(fit("\n".join(lines)))
    return EXIT_OK
