"""Options describing a source on the command line (`dativo discover --connector`, `dativo
generate config`): ``--object``, the options each registered source plugin declares
(``cli_options``: connection, paths, ids), and ``--set`` for any other source-block key."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from dativo_runner.drafts import DraftOptions, identifier
from dativo_runner.errors import ConfigError, DativoError, Problem
from dativo_runner.home import ProjectHome
from dativo_runner.plugins import source_plugin
from dativo_runner.plugins.base import SourceOption
from dativo_runner.registry import Registry

_GLOB = set("*?[")
_WANTED = {"discover", "generate", "completion"}  # commands whose parsers take the source options


def _home_of(argv: Sequence[str]) -> ProjectHome:
    """The home the command line names, before it is parsed."""
    chosen = None
    for index, arg in enumerate(argv):
        if arg == "--home" and index + 1 < len(argv):
            chosen = argv[index + 1]
        elif arg.startswith("--home="):
            chosen = arg.partition("=")[2]
    return ProjectHome.from_option(chosen)


def declared_options(argv: Sequence[str]) -> list[tuple[SourceOption, list[str]]]:
    """The options the source plugins of the home's registry declare, each with the connectors
    that take it (registry order); none when the registry cannot be read (the command then
    reports it), and none unless the command line asks for a command that uses them."""
    if not _WANTED & set(argv):
        return []
    home = _home_of(argv)
    try:
        registry = Registry.load(home.registry, home.display(home.registry))
    except DativoError as exc:
        _unreadable[:] = [exc]
        return []
    found: dict[str, tuple[SourceOption, list[str]]] = {}
    for name, entry in registry.sources.items():
        try:
            plugin = source_plugin(entry, registry.file)
        except DativoError:
            continue  # the command names the connector's problem if it is used
        for option in plugin.cli_options:
            found.setdefault(option.flag, (option, []))[1].append(name)
    return list(found.values())


_command_line: list[str] = []
_unreadable: list[DativoError] = []  # why the registry gave no source options


def unreadable_registry() -> DativoError | None:
    """The error that kept the registry's source options off the command line, if any: a
    source option the parser then refuses is that error's consequence, and it is what to say."""
    return _unreadable[0] if _unreadable else None


def use_command_line(argv: Sequence[str]) -> None:
    """The arguments the parser is built for (the home they name decides the source options)."""
    _command_line[:] = list(argv)


def add_source_options(parser: argparse.ArgumentParser, object_help: str) -> None:
    """``--object``, the options the registered sources declare, and ``--set``."""
    group = parser.add_argument_group(
        "source (the options the registered connectors declare; each connector uses what applies)"
    )
    group.add_argument("--object", help=object_help)
    names = []
    for option, connectors in declared_options(_command_line):
        group.add_argument(
            option.flag, metavar=option.metavar, help=f"{', '.join(connectors)}: {option.help}"
        )
        names.append(option.name)
    group.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other source-block key (YAML value; dotted keys nest), e.g. --set delimiter=';'",
    )
    parser.set_defaults(source_option_names=tuple(names))


def _settings(pairs: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError([Problem("--set", "", f"{pair!r} is not KEY=VALUE")])
        try:
            settings[key.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            settings[key.strip()] = text
    return settings


def default_object(args: argparse.Namespace) -> str | None:
    """``--object``, else for a file source the file's stem (or its folder's name for a glob)."""
    if args.object:
        return str(args.object)
    path = getattr(args, "path", None)
    if not path:
        return None
    parts = [part for part in Path(path).parts if not _GLOB & set(part)]
    return identifier(Path(parts[-1]).stem) if parts else None


def draft_options(args: argparse.Namespace, object_name: str | None) -> DraftOptions:
    """The options given, as :class:`DraftOptions`."""
    values = {name: getattr(args, name) for name in args.source_option_names}
    return DraftOptions(
        object=object_name,
        values={name: value for name, value in values.items() if value is not None},
        settings=_settings(args.set),
    )
