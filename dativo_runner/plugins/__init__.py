"""Connector plugins, found through the registry (``plugin: module:Class``) or, for a connector
installed as its own distribution, through its ``dativo.connectors`` entry point named like its
registry entry; imported only when a job uses them."""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.plugins.base import SourcePlugin, TargetPlugin

if TYPE_CHECKING:
    from dativo_runner.registry import ConnectorEntry


ENTRY_POINT_GROUP = "dativo.connectors"


@cache
def _load(dotted: str) -> object:
    module_name, _, attribute = dotted.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute)()


def _entry_point(name: str) -> str | None:
    """``module:Class`` of the installed ``dativo.connectors`` entry point ``name``, if any."""
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    return next(iter(found)).value if found else None


def load_plugin(entry: ConnectorEntry, registry_file: str) -> SourcePlugin | TargetPlugin:
    """The plugin of a registered connector; one clear line when it has none or it cannot load."""
    field = f"registry.{entry.role}s.{entry.name}.plugin"
    dotted = entry.plugin or _entry_point(entry.name)
    if not dotted:
        raise ConfigError(
            [Problem(registry_file, field, f"{entry.role} connector {entry.name!r} has no runner plugin yet")]
        )
    try:
        plugin = _load(dotted)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        raise ConfigError(
            [Problem(registry_file, field, f"cannot load {dotted!r}: {type(exc).__name__}: {exc}")]
        ) from None
    expected = SourcePlugin if entry.role == "source" else TargetPlugin
    if not isinstance(plugin, expected):
        raise ConfigError([Problem(registry_file, field, f"{dotted!r} is not a {expected.__name__}")])
    return plugin


def source_plugin(entry: ConnectorEntry, registry_file: str) -> SourcePlugin:
    """The plugin of a source connector."""
    plugin = load_plugin(entry, registry_file)
    assert isinstance(plugin, SourcePlugin)
    return plugin


def target_plugin(entry: ConnectorEntry, registry_file: str) -> TargetPlugin:
    """The plugin of a target connector."""
    plugin = load_plugin(entry, registry_file)
    assert isinstance(plugin, TargetPlugin)
    return plugin
