"""Loading a job: YAML, schema, secrets, registry, connector recipes and asset, checked together.

The stages live in :mod:`dativo_runner.job_stages`; :func:`load_job_config` runs them in order."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from dativo_runner.assets import AssetSpec
from dativo_runner.config_models import JobFile, SourceSettings, parse
from dativo_runner.connectors import ConnectorRecipe
from dativo_runner.errors import ConfigError, JobConfigError, Problem
from dativo_runner.home import ProjectHome
from dativo_runner.incremental import Incremental
from dativo_runner.job_stages import (
    TENANT_PATTERN,
    TENANT_RULE,
    check_tenant,
    interpolate_job,
    job_incremental,
    load_job_asset,
    load_registry,
    missing_programs,
    read_job_file,
    resolve_connectors,
)
from dativo_runner.partitions import Partition, PartitionSet, job_partitions
from dativo_runner.plugins.base import SourcePlugin, TargetPlugin
from dativo_runner.policy import unprotected_source_problems
from dativo_runner.registry import ConnectorEntry
from dativo_runner.secrets import Redactor

__all__ = ["TENANT_PATTERN", "TENANT_RULE", "Job", "load_job_config"]


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
    #: The slice this run reads (``dativo run --partition``), None for the whole source.
    partition: Partition | None = None

    @cached_property
    def partitions(self) -> PartitionSet | None:
        """The job's ``partitions`` (None when it declares none)."""
        return job_partitions(self.data, file=self.file)

    def with_partition(self, key: str) -> Job:
        """This job restricted to partition ``key`` (a JobConfigError naming the valid keys if
        it has no such partition)."""
        found = self.partitions
        if found is None:
            raise JobConfigError(
                [Problem(self.file, "partitions", f"the job declares no partitions (asked for {key!r})")]
            )
        return replace(self, partition=found.get(key))

    def first_slice(self) -> Job:
        """What planning checks stand for: the job, or of a partitioned job its first partition
        (a job partitioned by path never reads ``source.files`` paths themselves)."""
        found = self.partitions if self.partition is None else None
        return self.with_partition(found.keys[0]) if found is not None else self

    @property
    def run_name(self) -> str:
        """The job's name, with the partition's key when it runs one (``deals.eu``): it names the
        state file, the lock and the run folder, so partitions of one job run side by side."""
        return f"{self.name}.{self.partition.key}" if self.partition else self.name

    @property
    def source(self) -> dict[str, Any]:
        """The job's source block over the recipe's defaults."""
        return {**self.source_recipe.defaults, **(self.data.get("source") or {})}

    @property
    def target(self) -> dict[str, Any]:
        """The job's target block over the recipe's defaults."""
        return {**self.target_recipe.defaults, **(self.data.get("target") or {})}

    @cached_property
    def config(self) -> JobFile:
        """The job file's blocks, typed (after interpolation)."""
        return parse(JobFile, self.data)

    @cached_property
    def source_settings(self) -> SourceSettings:
        """:attr:`source` (the job's block over the recipe's defaults), typed."""
        return parse(SourceSettings, self.source)

    @property
    def log_level(self) -> str:
        """``logging.level`` of the job (INFO by default)."""
        return self.config.logging.level


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
    raw = read_job_file(path, home, file)
    tenant = check_tenant(raw, home, mode, file)
    redactor = redactor or Redactor()
    found = interpolate_job(raw, tenant, home, secrets_dir, redactor, file)
    config = found.config
    registry = load_registry(config, home, mode, file)
    problems: list[Problem] = []
    connectors = resolve_connectors(found, registry, home, mode, problems)
    asset = load_job_asset(config, home, file, problems)
    if problems:
        raise ConfigError(problems)
    assert asset is not None
    incremental = job_incremental(config, connectors, asset, file, problems)
    entries = (connectors.entry("source", config), connectors.entry("target", config))
    problems.extend(missing_programs(entries, file))
    if problems:
        raise ConfigError(problems)
    source, target = connectors.plugins["source"], connectors.plugins["target"]
    assert isinstance(source, SourcePlugin) and isinstance(target, TargetPlugin)
    job = Job(
        file=file,
        name=path.stem,
        tenant_id=tenant,
        data=found.data,
        source_entry=entries[0],
        target_entry=entries[1],
        source_recipe=connectors.recipes["source"],
        target_recipe=connectors.recipes["target"],
        source_plugin=source,
        target_plugin=target,
        incremental=incremental,
        asset=asset,
        home=home,
        redactor=redactor,
        secrets=found.secrets,
        references=found.references,
    )
    # What only the connectors can check (files that match nothing, unknown partition columns):
    # here, so that `dativo validate` refuses exactly what `dativo run` would.
    problems = [*partition_problems(job), *source.check(job), *target.check(job)]
    problems.extend(unprotected_source_problems(job))
    if problems:
        raise ConfigError(problems)
    return job


def partition_problems(job: Job) -> list[Problem]:
    """The job's ``partitions`` well-formed and of a kind its source can slice by."""
    try:
        found = job.partitions
    except JobConfigError as exc:
        return exc.problems
    if found is None:
        return []
    kinds = (
        {"time_window"}
        if found.kind != "static"
        else {name for spec in (found.slices or {}).values() for name in spec}
    )
    problems = []
    mode = job.target.get("write_mode")
    if mode in job.target_plugin.capabilities.replace_modes:
        problems.append(
            Problem(
                job.file,
                "target.write_mode",
                f"{mode!r} replaces the whole table each run: a partitioned job appends or merges",
            )
        )
    supported = job.source_plugin.partition_kinds
    refused = sorted(kinds - set(supported))
    if refused:
        can = f"it slices by {' or '.join(supported)}" if supported else "it cannot be partitioned"
        message = f"source {job.source_entry.name!r} cannot slice by {' or '.join(refused)} ({can})"
        problems.append(Problem(job.file, "partitions", message))
    return problems
