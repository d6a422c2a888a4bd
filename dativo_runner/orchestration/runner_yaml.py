"""The runner YAML of orchestrated mode, validated whole before anything starts.

Checked: the JSON Schema (``schemas/runner.schema.json``), every cron with Dagster's own parser,
every time zone, every referenced job (it exists and validates like `dativo validate`), and that
no two schedules make the same Dagster asset or name.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dativo_runner.config_models import (
    CodeServer,
    OrchestratorSettings,
    PostgresStorage,
    RunnerSettings,
    ScheduleEntry,
    parse,
)
from dativo_runner.errors import ConfigError, DativoError, Problem
from dativo_runner.home import ProjectHome
from dativo_runner.job_config import TENANT_PATTERN, Job, load_job_config
from dativo_runner.schema_validation import validate_document
from dativo_runner.yaml_io import load_yaml

RUNNER_CONFIG_ENV = "DATIVO_RUNNER_CONFIG"  # what the code location reads in any Dagster deployment
DEFAULT_TIMEZONE = "UTC"
_ASSET_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")


@dataclass(frozen=True)
class ScheduledJob:
    """One ``schedules`` entry with its job loaded and validated. ``problem`` says why the job
    cannot run: it does not validate (``job`` None, lenient loads only) or its run's plan fails
    (a secret or variable not set, credentials missing: ``dativo validate`` names it); such a
    schedule is defined but not started."""

    name: str
    config: Path  # the job YAML, absolute
    file: str  # the job YAML as messages name it
    tenant_id: str
    asset_name: str
    job: Job | None
    cron: str
    timezone: str
    enabled: bool
    problem: str | None = None


@dataclass(frozen=True)
class RunnerConfig:
    """A validated runner YAML: the scheduled jobs and how the Dagster instance is set up."""

    file: Path
    home: ProjectHome
    schedules: tuple[ScheduledJob, ...]
    concurrency_per_tenant: int
    max_parallel_partitions: int  # runs of one partitioned table at a time
    state_dir: Path
    secrets_dir: Path | None
    dagster_home: Path
    postgres: PostgresStorage | None  # a URL or the variable holding it; None: SQLite
    code_servers: tuple[CodeServer, ...] = ()  # other machines' code locations in the workspace

    @property
    def display(self) -> str:
        """The file as messages name it."""
        return self.home.display(self.file)


@dataclass(frozen=True)
class _JobOptions:
    """What every scheduled job is loaded with."""

    mode: str
    secrets_dir: Path | None
    timezone: str  # of a schedule that names none


def runner_config_path(option: str | os.PathLike[str] | None, home: ProjectHome) -> Path:
    """``--runner-config``, else ``$DATIVO_RUNNER_CONFIG``, else ``<home>/configs/runner.yaml``."""
    chosen = option or os.environ.get(RUNNER_CONFIG_ENV)
    return home.resolve(chosen) if chosen else home.runner_config


def _valid_cron(cron: str) -> bool:
    from dagster._utils.schedules import is_valid_cron_string  # the parser Dagster schedules with

    return bool(cron.strip()) and is_valid_cron_string(cron)


def _valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _folder(home: ProjectHome, value: str | None, default: Path) -> Path:
    return home.resolve(value) if value else default


def _lenient_entry(config: Path, home: ProjectHome, exc: DativoError) -> tuple[str, str, str] | None:
    """Tenant, asset and first problem of a job that does not validate, when its YAML names both."""
    try:
        raw = load_yaml(config, display=home.display(config))
    except DativoError:
        return None
    tenant, asset = raw.get("tenant_id"), raw.get("asset")
    if not isinstance(tenant, str) or not TENANT_PATTERN.fullmatch(tenant):
        return None
    if not isinstance(asset, str) or not _ASSET_NAME.fullmatch(asset):
        return None
    return tenant, asset, str(exc.problems[0])


def _entry_problems(entry: ScheduleEntry, where: str, default_tz: str, display: str) -> list[Problem]:
    """What is wrong with a schedule entry itself: its cron and its time zone."""
    problems = []
    cron = entry.cron
    if not _valid_cron(cron):
        problems.append(Problem(display, f"{where}.cron", f"{cron!r} is not a valid cron expression"))
    timezone = entry.timezone or default_tz
    if not _valid_timezone(timezone):
        problems.append(Problem(display, f"{where}.timezone", f"unknown time zone {timezone!r}"))
    return problems


def _load_entry(entry: ScheduleEntry, home: ProjectHome, options: _JobOptions, strict: bool) -> ScheduledJob:
    """One schedule with its job."""
    config = home.resolve(entry.config)
    job: Job | None = None
    problem: str | None = None
    try:
        job = load_job_config(config, home, mode=options.mode, secrets_dir=options.secrets_dir)
        tenant, asset = job.tenant_id, job.asset.name
        problem = _plan_problem(job)
    except DativoError as exc:
        lenient = None if strict else _lenient_entry(config, home, exc)
        if lenient is None:
            raise
        tenant, asset, problem = lenient
    return ScheduledJob(
        name=entry.name,
        config=config,
        file=home.display(config),
        tenant_id=tenant,
        asset_name=asset,
        job=job,
        cron=entry.cron,
        timezone=entry.timezone or options.timezone,
        enabled=entry.enabled,
        problem=problem,
    )


def _plan_problem(job: Job) -> str | None:
    """What planning a run of ``job`` refuses (as `dativo validate` reports it), or None."""
    from dativo_runner.preflight import plan_problems

    found = plan_problems(job)
    if not found:
        return None
    more = f" (and {len(found) - 1} more: dativo validate --config {job.file})" if len(found) > 1 else ""
    return job.redactor.redact(str(found[0])) + more


def _load_schedules(
    entries: tuple[ScheduleEntry, ...], home: ProjectHome, options: _JobOptions, display: str, strict: bool
) -> tuple[list[ScheduledJob], list[Problem]]:
    """Every schedule entry checked and loaded; names and (tenant, asset) pairs unique."""
    problems: list[Problem] = []
    scheduled: list[ScheduledJob] = []
    seen_names: dict[str, str] = {}
    seen_assets: dict[tuple[str, str], str] = {}
    for index, entry in enumerate(entries):
        where = f"runner.orchestrator.schedules[{index}]"
        if entry.name in seen_names:
            problems.append(
                Problem(
                    display, f"{where}.name", f"{entry.name!r} is already used by {seen_names[entry.name]}"
                )
            )
        seen_names.setdefault(entry.name, where)
        problems.extend(_entry_problems(entry, where, options.timezone, display))
        if not home.resolve(entry.config).is_file():
            problems.append(Problem(display, f"{where}.config", f"{entry.config}: job file not found"))
            continue
        try:
            loaded = _load_entry(entry, home, options, strict)
        except DativoError as exc:
            problems.extend(exc.problems)
            continue
        key = (loaded.tenant_id, loaded.asset_name)
        if key in seen_assets:
            problems.append(
                Problem(
                    display,
                    f"{where}.config",
                    f"tenant {key[0]!r} asset {key[1]!r} is already scheduled by {seen_assets[key]}"
                    " (one schedule per job; one job per tenant and asset)",
                )
            )
            continue
        seen_assets[key] = where
        scheduled.append(loaded)
    return scheduled, problems


def _code_server_problems(servers: tuple[CodeServer, ...], display: str) -> list[Problem]:
    """Code location names are unique, and ``dativo`` is this machine's."""
    problems, seen = [], {"dativo"}
    for index, server in enumerate(servers):
        if server.name in seen:
            where = f"runner.orchestrator.code_servers[{index}].name"
            problems.append(Problem(display, where, f"{server.name!r} is already a code location name"))
        seen.add(server.name)
    return problems


def load_runner_config(
    path: Path, home: ProjectHome, *, mode: str = "self_hosted", strict: bool = True
) -> RunnerConfig:
    """Load ``path`` and every job it schedules; all problems are raised together (ConfigError).

    ``strict=False`` (the code location loaded by Dagster's processes and run workers) keeps a
    schedule whose job stopped validating (its files are gone, a secret is missing): its asset
    is still defined and its runs fail with the CLI's error line, so one tenant's broken job never
    takes the other tenants' schedules down. The runner YAML's own problems are always raised."""
    display = home.display(path)
    if not path.is_file():
        raise ConfigError([Problem(display, "", "runner configuration not found")])
    data = load_yaml(path, display=display)
    problems = validate_document("runner", data, display)
    if problems:
        raise ConfigError(problems)
    orchestrator: OrchestratorSettings | None = parse(RunnerSettings, data["runner"]).orchestrator
    if orchestrator is None:
        raise ConfigError([Problem(display, "runner.orchestrator", "is required for orchestrated mode")])
    default_tz = orchestrator.timezone or DEFAULT_TIMEZONE
    if not _valid_timezone(default_tz):
        problems.append(Problem(display, "runner.orchestrator.timezone", f"unknown time zone {default_tz!r}"))
    state_dir = _folder(home, orchestrator.state_dir, home.state_dir)
    secrets_dir = home.resolve(orchestrator.secrets_dir) if orchestrator.secrets_dir else None
    if secrets_dir is not None and not secrets_dir.is_dir():
        where = "runner.orchestrator.secrets_dir"
        problems.append(Problem(display, where, f"{home.display(secrets_dir)}: folder not found"))
        secrets_dir = None
    problems.extend(_code_server_problems(orchestrator.code_servers, display))
    options = _JobOptions(mode, secrets_dir, default_tz)
    scheduled, found = _load_schedules(orchestrator.schedules, home, options, display, strict)
    problems.extend(found)
    if problems:
        raise ConfigError(problems)
    return RunnerConfig(
        file=path,
        home=home,
        schedules=tuple(scheduled),
        concurrency_per_tenant=orchestrator.concurrency_per_tenant,
        max_parallel_partitions=orchestrator.max_parallel_partitions,
        state_dir=state_dir,
        secrets_dir=secrets_dir,
        dagster_home=_folder(home, orchestrator.dagster_home, state_dir / ".dagster"),
        postgres=orchestrator.storage.postgres,
        code_servers=orchestrator.code_servers,
    )
