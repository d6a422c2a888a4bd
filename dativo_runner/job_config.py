"""Loading a job: YAML, schema, secrets, registry, connector recipes and asset, checked together."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dativo_runner.assets import AssetSpec, find_asset_file, load_asset
from dativo_runner.connectors import ConnectorRecipe, load_recipe
from dativo_runner.errors import ConfigError, Problem
from dativo_runner.executables import find_executable
from dativo_runner.home import ProjectHome
from dativo_runner.incremental import Incremental, resolve_incremental
from dativo_runner.job_hints import job_file_hint
from dativo_runner.naming_rules import field_values, naming_problems
from dativo_runner.plugins import source_plugin, target_plugin
from dativo_runner.plugins.base import SourcePlugin, TargetPlugin
from dativo_runner.policy import classification_problems, load_policy, unprotected_source_problems
from dativo_runner.registry import ConnectorEntry, Registry
from dativo_runner.runner_config import naming_variables
from dativo_runner.schema_validation import validate_document, validate_job_block
from dativo_runner.secrets import Redactor, default_interpolator, load_tenant_secrets
from dativo_runner.yaml_io import load_yaml

TENANT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")  # the whole value (fullmatch)
TENANT_RULE = "letters, digits, '-' and '_', starting with a letter or digit, at most 63"


@dataclass(frozen=True)
class Job:
    """A validated job with everything it references loaded."""

    file: str
    name: str
    tenant_id: str
    data: dict[str, Any]
    source_entry: ConnectorEntry
    target_entry: ConnectorEntry
    source_recipe: ConnectorRecipe
    target_recipe: ConnectorRecipe
    source_plugin: SourcePlugin
    target_plugin: TargetPlugin
    incremental: Incremental
    asset: AssetSpec
    home: ProjectHome
    redactor: Redactor
    secrets: dict[str, str]
    #: ``${VAR}`` references of the job file: (field, variable, set), for errors naming them.
    references: tuple[tuple[str, str, bool], ...] = field(default=())

    @property
    def source(self) -> dict[str, Any]:
        """The job's source block over the recipe's defaults."""
        return {**self.source_recipe.defaults, **(self.data.get("source") or {})}

    @property
    def target(self) -> dict[str, Any]:
        """The job's target block over the recipe's defaults."""
        return {**self.target_recipe.defaults, **(self.data.get("target") or {})}

    @property
    def log_level(self) -> str:
        """``logging.level`` of the job (INFO by default)."""
        return str((self.data.get("logging") or {}).get("level") or "INFO")


def _path_option(job: dict[str, Any], key: str, fallback: Path | None, home: ProjectHome) -> Path | None:
    value = job.get(key)
    return home.resolve(value) if value else fallback


def _outside_home(job: dict[str, Any], key: str, path: Path, home: ProjectHome, file: str) -> Problem | None:
    """A config file outside the home (absolute, ``..``, a symlink pointing out) is never read:
    the problem names the field and the path as written, never the file's content."""
    if not home.outside(path, []):
        return None
    shown = job.get(key) or home.display(path)
    return Problem(
        file, key, f"{shown!r} is outside the project home: config files are read only from inside it"
    )


def load_job_config(
    path: Path,
    home: ProjectHome,
    *,
    mode: str = "self_hosted",
    secrets_dir: Path | None = None,
    redactor: Redactor | None = None,
) -> Job:
    """Load and validate a job; all problems found in it are raised together as a ConfigError."""
    file = home.display(path)
    if not path.is_file():
        if not home.registry.is_file():  # not a project home: say which was assumed
            raise ConfigError([Problem(file, "", home.not_found())])
        raise ConfigError([Problem(file, "", "file not found" + job_file_hint(path, home))])
    raw = load_yaml(path, display=file)
    tenant = raw.get("tenant_id")
    if not isinstance(tenant, str) or not TENANT_PATTERN.fullmatch(tenant):
        # The tenant names the secrets folder: check the whole file before reading any secret.
        problems = validate_document("job", raw, file)
        if not any(p.field == "tenant_id" for p in problems):
            problems.append(Problem(file, "tenant_id", f"{tenant!r} is not allowed: {TENANT_RULE}"))
        try:
            registry = Registry.load(home.registry, home.display(home.registry))
        except ConfigError:
            raise ConfigError(problems) from None
        raise ConfigError(problems + _block_problems(raw, registry, mode, file)[0])
    redactor = redactor or Redactor()
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

    if not home.registry.is_file():
        raise ConfigError([Problem(home.display(home.registry), "", home.not_found())])
    registry = Registry.load(home.registry, home.display(home.registry))
    for role in ("source", "target"):
        problems.extend(registry.check(role, data[f"{role}_connector"], mode, file))
    if problems:
        raise ConfigError(problems)
    found, plugins = _block_problems(data, registry, mode, file)
    problems.extend(found)
    source_name, target_name = data["source_connector"], data["target_connector"]
    recipes: dict[str, ConnectorRecipe | None] = {}
    for role, name, fallback in (
        ("source", source_name, home.source_connector(source_name)),
        ("target", target_name, home.target_connector(target_name)),
    ):
        recipe_path = _path_option(data, f"{role}_connector_path", fallback, home)
        assert recipe_path is not None
        outside = _outside_home(data, f"{role}_connector_path", recipe_path, home, file)
        if outside is not None:
            problems.append(outside)
            continue
        if not recipe_path.is_file():
            problems.append(Problem(file, f"{role}_connector_path", f"{home.display(recipe_path)} not found"))
            continue
        recipes[role] = load_recipe(
            recipe_path, home.display(recipe_path), registry.entry(role, name), problems
        )

    asset_path = _path_option(
        data, "asset_path", find_asset_file(home.root / "assets", source_name, data["asset"]), home
    )
    asset: AssetSpec | None = None
    outside = _outside_home(data, "asset_path", asset_path, home, file) if asset_path else None
    if outside is not None:
        problems.append(outside)
    elif asset_path is None or not asset_path.is_file():
        shown = home.display(asset_path) if asset_path else f"assets/{source_name}/v*/ naming it"
        problems.append(Problem(file, "asset_path", f"asset file {shown} not found"))
    else:
        try:
            asset = load_asset(asset_path, home.display(asset_path))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if asset is not None:
        problems.extend(_asset_matches_job(asset, data, file))
        problems.extend(classification_problems(asset, load_policy(home), home.display(home.policy)))
    if problems:
        raise ConfigError(problems)
    assert asset is not None and recipes.get("source") and recipes.get("target")
    source_entry = registry.entry("source", source_name)
    target_entry = registry.entry("target", target_name)
    source = plugins["source"]
    target = plugins["target"]
    assert isinstance(source, SourcePlugin) and isinstance(target, TargetPlugin)
    incremental, found = resolve_incremental(
        recipes["source"].incremental,  # type: ignore[union-attr]
        dict((data.get("source") or {}).get("incremental") or {}),
        file=file,
        connector=source_name,
        strategies=source_entry.incremental_strategies,
        supported=source.incremental_settings,
        columns={f.name for f in asset.fields},
        cursor_strategies=source.cursor_strategies,
    )
    problems.extend(found)
    for entry in (source_entry, target_entry):
        if find_executable(entry.executable) is None:
            problems.append(
                Problem(
                    file,
                    f"{entry.role}_connector",
                    f"{entry.name!r} is registered but its program {entry.executable} is not installed",
                )
            )
    if problems:
        raise ConfigError(problems)
    job = Job(
        file=file,
        name=path.stem,
        tenant_id=tenant,
        data=data,
        source_entry=source_entry,
        target_entry=target_entry,
        source_recipe=recipes["source"],  # type: ignore[arg-type]
        target_recipe=recipes["target"],  # type: ignore[arg-type]
        source_plugin=source,
        target_plugin=target,
        incremental=incremental,
        asset=asset,
        home=home,
        redactor=redactor,
        secrets=secrets,
        references=tuple(interpolator.references),
    )
    # What only the connectors can check (files that match nothing, unknown partition columns):
    # here, so that `dativo validate` refuses exactly what `dativo run` would.
    problems = [*source.check(job), *target.check(job), *unprotected_source_problems(job)]
    if problems:
        raise ConfigError(problems)
    return job


def _block_problems(
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


def _asset_matches_job(asset: AssetSpec, data: dict[str, Any], file: str) -> list[Problem]:
    problems = []
    if asset.name != data["asset"]:
        problems.append(Problem(file, "asset", f"{data['asset']!r} but {asset.file} defines {asset.name!r}"))
    if asset.source_type != data["source_connector"]:
        problems.append(
            Problem(
                file,
                "source_connector",
                f"{data['source_connector']!r} but asset {asset.name!r} is for {asset.source_type!r}",
            )
        )
    objects = (data.get("source") or {}).get("objects")
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
