"""Jobs that exist only in memory: what `dativo discover --connector` and `dativo generate config`
plan from command-line options, loaded the way `dativo run` loads a job file (registry, recipes,
block schema, tenant secrets, ``${VAR}`` interpolation), with a placeholder asset that only names
the object."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dativo_runner.assets import AssetSpec
from dativo_runner.connectors import ConnectorRecipe, load_recipe
from dativo_runner.errors import ConfigError, Problem
from dativo_runner.home import ProjectHome
from dativo_runner.incremental import Incremental
from dativo_runner.job_config import TENANT_PATTERN, TENANT_RULE, Job
from dativo_runner.naming_rules import field_values, naming_problems
from dativo_runner.plugins import source_plugin, target_plugin
from dativo_runner.registry import Registry
from dativo_runner.runner_config import naming_variables
from dativo_runner.schema_validation import validate_job_block
from dativo_runner.secrets import Redactor, default_interpolator, load_tenant_secrets

DISCOVER_OBJECT = "discover"  # the placeholder asset's object when none is named


@dataclass(frozen=True)
class DraftOptions:
    """The object, the source options given on the command line (those the source plugins
    declare, by name) and ``--set`` entries; each source plugin uses what applies."""

    object: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # --set KEY=VALUE

    def get(self, name: str) -> str | None:
        """The value of option ``name`` (``folder_id`` for ``--folder-id``), None when not given."""
        return self.values.get(name)


def identifier(text: str) -> str:
    """``text`` as an asset-name and file-name part: letters, digits and ``_``."""
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")
    return cleaned or "object"


def object_name(stream: str) -> str:
    """The asset's object of a stream or table (``schema.table`` → ``table``)."""
    return stream.rpartition(".")[2]


def asset_name(source: str, stream: str) -> str:
    """``<source>_<object>``, as the README's assets are named."""
    name = identifier(f"{source}_{object_name(stream)}")
    return name if name[0].isalpha() else f"a_{name}"


def apply_settings(block: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """``--set a.b=value`` entries merged into a source block (dotted keys nest)."""
    for key, value in settings.items():
        node = block
        *parents, last = key.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[last] = value
    return block


@dataclass(frozen=True)
class Draft:
    """What a drafted job names: connectors, tenant, object and its (uninterpolated) blocks."""

    source: str
    target: str
    tenant: str
    object: str | None
    source_block: dict[str, Any]
    target_block: dict[str, Any]
    display: str


def _registry(home: ProjectHome, draft: Draft, mode: str) -> Registry:
    registry = Registry.load(home.registry, home.display(home.registry))
    problems = registry.check("source", draft.source, mode, draft.display)
    problems += registry.check("target", draft.target, mode, draft.display)
    if not TENANT_PATTERN.fullmatch(draft.tenant):
        problems.append(Problem(draft.display, "--tenant", f"{draft.tenant!r} is not allowed: {TENANT_RULE}"))
    if problems:
        raise ConfigError(problems)
    return registry


def plan_draft(
    home: ProjectHome,
    draft: Draft,
    options: DraftOptions,
    *,
    mode: str = "self_hosted",
) -> Draft:
    """``draft`` with the source block its plugin makes of ``options`` (then ``--set``), and
    the target block the target's plugin drafts for the object when the draft has none."""
    registry = _registry(home, draft, mode)
    plugin = source_plugin(registry.entry("source", draft.source), registry.file)
    block = apply_settings(plugin.draft_source(options), options.settings)
    target = target_plugin(registry.entry("target", draft.target), registry.file)
    target_block = draft.target_block or target.draft_target(draft.target, object_name(draft.object or ""))
    return replace(draft, source_block=block, target_block=target_block)


def _recipe(
    home: ProjectHome, registry: Registry, role: str, name: str, problems: list[Problem]
) -> ConnectorRecipe:
    path = home.source_connector(name) if role == "source" else home.target_connector(name)
    if not path.is_file():
        raise ConfigError([Problem(home.display(path), "", "connector recipe not found")])
    recipe = load_recipe(path, home.display(path), registry.entry(role, name), problems)
    if recipe is None:
        raise ConfigError(problems)
    return recipe


def load_draft(
    home: ProjectHome,
    draft: Draft,
    *,
    mode: str = "self_hosted",
    secrets_dir: Path | None = None,
    redactor: Redactor,
) -> Job:
    """The draft as a :class:`Job` (placeholder asset), checked as a job file would be."""
    registry = _registry(home, draft, mode)
    problems: list[Problem] = []
    recipes = {
        role: _recipe(home, registry, role, name, problems)
        for role, name in (("source", draft.source), ("target", draft.target))
    }
    if problems:
        raise ConfigError(problems)
    secrets = load_tenant_secrets(secrets_dir, draft.tenant)
    for value in secrets.values():
        redactor.add(value)
    blocks = {"source": draft.source_block, "target": draft.target_block}
    interpolator = default_interpolator(secrets, redactor)
    resolved, problems = interpolator.resolve(blocks, draft.display)
    fields = (field_values(blocks), field_values(resolved))
    allowed = naming_variables(home)
    problems += naming_problems(interpolator.uses, fields, allowed, draft.display, redactor)
    source_entry = registry.entry("source", draft.source)
    target_entry = registry.entry("target", draft.target)
    source = source_plugin(source_entry, registry.file)
    target = target_plugin(target_entry, registry.file)
    stream = draft.object or DISCOVER_OBJECT
    # Discovery of every stream names no object: the block is checked as if it named one.
    checked = {"objects": [stream], **resolved["source"]}
    problems += validate_job_block("source", source.job_schema, checked, draft.display)
    if problems:
        raise ConfigError(problems)
    asset = AssetSpec(
        file=draft.display,
        name=asset_name(draft.source, stream),
        source_type=draft.source,
        object=object_name(stream),
        version="1.0",
        fields=(),
    )
    data = {
        "tenant_id": draft.tenant,
        "source_connector": draft.source,
        "target_connector": draft.target,
        "asset": asset.name,
        **resolved,
    }
    return Job(
        file=draft.display,
        name=f"{draft.source}_{identifier(object_name(stream))}",
        tenant_id=draft.tenant,
        data=data,
        source_entry=source_entry,
        target_entry=target_entry,
        source_recipe=recipes["source"],
        target_recipe=recipes["target"],
        source_plugin=source,
        target_plugin=target,
        incremental=Incremental(),
        asset=asset,
        home=home,
        redactor=redactor,
        secrets=secrets,
    )
