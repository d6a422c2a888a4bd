"""The stages of loading a job, each a small function that returns what it found or the problems:
read the file, interpolate and schema-check it, resolve its registry entries, plugins and recipes,
load its asset, resolve its incremental settings. :func:`dativo_runner.job_config.load_job_config`
runs them in order and raises after the stages whose problems stop the ones after them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dativo_runner.assets import AssetSpec, find_asset_file, load_asset
from dativo_runner.config_models import JobFile, parse
from dativo_runner.connectors import ConnectorRecipe, load_recipe
from dativo_runner.errors import ConfigError, Problem
from dativo_runner.executables import find_executable
from dativo_runner.home import ProjectHome
from dativo_runner.incremental import Incremental, resolve_incremental
from dativo_runner.job_hints import job_file_hint
from dativo_runner.naming_rules import field_values, naming_problems
from dativo_runner.plugins import source_plugin, target_plugin
from dativo_runner.plugins.base import SourcePlugin, TargetPlugin
from dativo_runner.policy import classification_problems, load_settings, owner_problems
from dativo_runner.registry import ConnectorEntry, Registry
from dativo_runner.runner_config import naming_variables
from dativo_runner.schema_validation import validate_document, validate_job_block
from dativo_runner.secrets import Redactor, default_interpolator, load_tenant_secrets
from dativo_runner.yaml_io import load_yaml

TENANT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")  # the whole value (fullmatch)
TENANT_RULE = "letters, digits, '-' and '_', starting with a letter or digit, at most 63"
ROLES = ("source", "target")


@dataclass(frozen=True)
class Interpolated:
    """A job file after ``${...}`` interpolation, valid against the job schema."""

    file: str  # the job file as messages name it
    data: dict[str, Any]
    config: JobFile
    secrets: dict[str, str]
    references: tuple[tuple[str, str, bool], ...]


@dataclass
class Connectors:
    """The job's registry, and per role the plugin and recipe found (missing ones are problems)."""

    registry: Registry
    plugins: dict[str, SourcePlugin | TargetPlugin] = field(default_factory=dict)
    recipes: dict[str, ConnectorRecipe] = field(default_factory=dict)

    def entry(self, role: str, config: JobFile) -> ConnectorEntry:
        """The registry entry of the job's ``role`` connector."""
        return self.registry.entry(role, connector_name(config, role))


def connector_name(config: JobFile, role: str) -> str:
    """The job's ``source_connector`` or ``target_connector``."""
    return config.source_connector if role == "source" else config.target_connector


def read_job_file(path: Path, home: ProjectHome, file: str) -> dict[str, Any]:
    """The job's YAML; a missing file (or project home) is an error naming it."""
    if not path.is_file():
        if not home.registry.is_file():  # not a project home: say which was assumed
            raise ConfigError([Problem(file, "", home.not_found())])
        raise ConfigError([Problem(file, "", "file not found" + job_file_hint(path, home))])
    return load_yaml(path, display=file)


def check_tenant(raw: dict[str, Any], home: ProjectHome, mode: str, file: str) -> str:
    """The job's tenant. The tenant names the secrets folder, so a file whose tenant is not
    allowed is checked whole (schema, connector blocks) and refused before any secret is read."""
    tenant = raw.get("tenant_id")
    if isinstance(tenant, str) and TENANT_PATTERN.fullmatch(tenant):
        return tenant
    problems = validate_document("job", raw, file)
    if not any(p.field == "tenant_id" for p in problems):
        problems.append(Problem(file, "tenant_id", f"{tenant!r} is not allowed: {TENANT_RULE}"))
    try:
        registry = Registry.load(home.registry, home.display(home.registry))
    except ConfigError:
        raise ConfigError(problems) from None
    raise ConfigError(problems + block_problems(raw, registry, mode, file)[0])


def interpolate_job(
    raw: dict[str, Any],
    tenant: str,
    home: ProjectHome,
    secrets_dir: Path | None,
    redactor: Redactor,
    file: str,
) -> Interpolated:
    """``raw`` with the tenant's secrets and the environment interpolated (every secret taught to
    ``redactor`` first), its names checked against the naming rules and the whole against the
    job schema."""
    secrets = load_tenant_secrets(secrets_dir, tenant)
    for value in secrets.values():
        redactor.add(value)
    interpolator = default_interpolator(secrets, redactor)
    data, problems = interpolator.resolve(raw, file)
    fields = (field_values(raw), field_values(data))
    problems.extend(naming_problems(interpolator.uses, fields, naming_variables(home), file, redactor))
    problems.extend(validate_document("job", data, file))
    if problems:
        raise ConfigError(problems)
    return Interpolated(file, data, parse(JobFile, data), secrets, tuple(interpolator.references))


def load_registry(config: JobFile, home: ProjectHome, mode: str, file: str) -> Registry:
    """The project's registry, in which both connectors must be registered for ``mode``."""
    if not home.registry.is_file():
        raise ConfigError([Problem(home.display(home.registry), "", home.not_found())])
    registry = Registry.load(home.registry, home.display(home.registry))
    problems = registry.check("source", config.source_connector, mode, file)
    problems.extend(registry.check("target", config.target_connector, mode, file))
    if problems:
        raise ConfigError(problems)
    return registry


def block_problems(
    data: dict[str, Any], registry: Registry, mode: str, file: str
) -> tuple[list[Problem], dict[str, SourcePlugin | TargetPlugin]]:
    """The job's ``source`` and ``target`` blocks checked against their connectors' schemas,
    and the plugins found (a connector that is unknown or has no plugin is a problem too)."""
    problems: list[Problem] = []
    plugins: dict[str, SourcePlugin | TargetPlugin] = {}
    for role, load in (("source", source_plugin), ("target", target_plugin)):
        name = data.get(f"{role}_connector")
        if not isinstance(name, str) or registry.check(role, name, mode, file):
            continue
        try:
            plugin = load(registry.entry(role, name), registry.file)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        plugins[role] = plugin
        block = data.get(role)
        problems.extend(validate_job_block(role, plugin.job_schema, block if block is not None else {}, file))
    return problems, plugins


def _outside_home(shown: str | None, key: str, path: Path, home: ProjectHome, file: str) -> Problem | None:
    """A config file outside the home (absolute, ``..``, a symlink pointing out) is never read:
    the problem names the field and the path as written, never the file's content."""
    if not home.outside(path, []):
        return None
    shown = shown or home.display(path)
    return Problem(
        file, key, f"{shown!r} is outside the project home: config files are read only from inside it"
    )


def resolve_connectors(
    found: Interpolated, registry: Registry, home: ProjectHome, mode: str, problems: list[Problem]
) -> Connectors:
    """The plugins (with the job's blocks checked against their schemas) and recipes of both
    connectors; what is wrong is appended to ``problems``."""
    config, file = found.config, found.file
    block, plugins = block_problems(found.data, registry, mode, file)
    problems.extend(block)
    connectors = Connectors(registry, plugins)
    for role in ROLES:
        name = connector_name(config, role)
        written = getattr(config, f"{role}_connector_path")
        fallback = home.source_connector(name) if role == "source" else home.target_connector(name)
        recipe_path = home.resolve(written) if written else fallback
        outside = _outside_home(written, f"{role}_connector_path", recipe_path, home, file)
        if outside is not None:
            problems.append(outside)
            continue
        if not recipe_path.is_file():
            problems.append(Problem(file, f"{role}_connector_path", f"{home.display(recipe_path)} not found"))
            continue
        recipe = load_recipe(recipe_path, home.display(recipe_path), registry.entry(role, name), problems)
        if recipe is not None:
            connectors.recipes[role] = recipe
    return connectors


def load_job_asset(
    config: JobFile, home: ProjectHome, file: str, problems: list[Problem]
) -> AssetSpec | None:
    """The job's asset, checked against the job and the policy; problems are appended."""
    written = config.asset_path
    asset_path = (
        home.resolve(written)
        if written
        else find_asset_file(home.root / "assets", config.source_connector, config.asset)
    )
    asset: AssetSpec | None = None
    outside = _outside_home(written, "asset_path", asset_path, home, file) if asset_path else None
    if outside is not None:
        problems.append(outside)
    elif asset_path is None or not asset_path.is_file():
        shown = home.display(asset_path) if asset_path else f"assets/{config.source_connector}/v*/ naming it"
        problems.append(Problem(file, "asset_path", f"asset file {shown} not found"))
    else:
        try:
            asset = load_asset(asset_path, home.display(asset_path))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if asset is not None:
        problems.extend(asset_matches_job(asset, config, file))
        settings = load_settings(home)
        policy_file = home.display(home.policy)
        problems.extend(classification_problems(asset, settings.classifications, policy_file))
        problems.extend(owner_problems(asset, settings, policy_file))
    return asset


def asset_matches_job(asset: AssetSpec, config: JobFile, file: str) -> list[Problem]:
    """The asset the job names is the one its file defines, for the job's source and object."""
    problems = []
    if asset.name != config.asset:
        problems.append(Problem(file, "asset", f"{config.asset!r} but {asset.file} defines {asset.name!r}"))
    if asset.source_type != config.source_connector:
        problems.append(
            Problem(
                file,
                "source_connector",
                f"{config.source_connector!r} but asset {asset.name!r} is for {asset.source_type!r}",
            )
        )
    objects = list(config.source.objects)
    # A database table may be qualified (`schema.table`): its last part is the object.
    if objects and [str(o).rpartition(".")[2] for o in objects] != [asset.object]:
        problems.append(
            Problem(
                file,
                "source.objects",
                f"{objects} but a job loads one asset: asset {asset.name!r} reads object "
                f"{asset.object!r} (give other objects jobs of their own)",
            )
        )
    return problems


def job_incremental(
    config: JobFile, connectors: Connectors, asset: AssetSpec, file: str, problems: list[Problem]
) -> Incremental:
    """The effective incremental settings (recipe under job); problems are appended."""
    source = connectors.plugins["source"]
    assert isinstance(source, SourcePlugin)
    entry = connectors.entry("source", config)
    incremental, found = resolve_incremental(
        connectors.recipes["source"].incremental,
        config.source.incremental,
        file=file,
        connector=config.source_connector,
        strategies=entry.incremental_strategies,
        supported=source.incremental_settings,
        columns={f.name for f in asset.fields},
        cursor_strategies=source.cursor_strategies,
        log_based=source.log_based,
        keys=tuple(asset.primary_key),
    )
    problems.extend(found)
    return incremental


def missing_programs(entries: tuple[ConnectorEntry, ...], file: str) -> list[Problem]:
    """A registered connector whose program is not installed, for each."""
    return [
        Problem(
            file,
            f"{entry.role}_connector",
            f"{entry.name!r} is registered but its program {entry.executable} is not installed",
        )
        for entry in entries
        if find_executable(entry.executable) is None
    ]
