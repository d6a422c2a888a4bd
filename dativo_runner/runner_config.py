"""The runner configuration (``configs/runner.yaml``): what the CLI reads from it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from dativo_runner.config_models import RunnerSettings, parse
from dativo_runner.errors import ConfigError
from dativo_runner.home import ProjectHome
from dativo_runner.schema_validation import validate_document
from dativo_runner.yaml_io import load_yaml


def runner_settings(home: ProjectHome) -> RunnerSettings:
    """The ``runner`` block of the home's runner YAML, validated (defaults when there is none)."""
    path = home.runner_config
    if not path.is_file():
        return RunnerSettings()
    # Validated once per content: loading the jobs of a runner YAML that schedules hundreds
    # of them asks for it per job (a Dagster run worker loads them all).
    return _validated_settings(path, home.display(path), path.read_bytes())


@lru_cache(maxsize=8)
def _validated_settings(path: Path, display: str, content: bytes) -> RunnerSettings:
    """The validated ``runner`` block of one content of the file."""
    data = load_yaml(path, display=display)
    problems = validate_document("runner", data, display)
    if problems:
        raise ConfigError(problems)
    return parse(RunnerSettings, data["runner"])


def naming_variables(home: ProjectHome) -> list[str]:
    """Environment variables jobs may interpolate into names (``runner.naming_variables``)."""
    return list(runner_settings(home).naming_variables)


def allowed_paths(home: ProjectHome) -> list[Path]:
    """Folders outside the home that sources may read (``runner.allowed_paths``, absolute).

    Source paths are confined to the project home: a path or glob that reaches a file elsewhere
    (an absolute path, ``..``, or a symlink pointing out) is refused unless it is under one of
    these folders."""
    return [Path(p) for p in runner_settings(home).allowed_paths]
