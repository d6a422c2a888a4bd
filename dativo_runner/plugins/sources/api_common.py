"""What the API sources' plugins share: the credential from the tenant's secrets and the REST
settings a job may pass to the tap."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.plugins.base import SourceOption

if TYPE_CHECKING:
    from dativo_runner.job_config import Job

# command-line options of every API source (`dativo discover --connector`, `generate config`)
API_OPTIONS = (
    SourceOption("--secret", "the tenant secret holding the key or token", "NAME", in_block=True),
    SourceOption("--api-url", "base URL (a proxy or an emulator)", in_block=True),
)

# source-block keys passed to the tap as they are (dativo_singer.rest.settings)
REST_SETTINGS = (
    "api_url",
    "max_requests_per_second",
    "max_tries",
    "backoff_base_seconds",
    "max_backoff_seconds",
    "max_retry_after_seconds",
    "request_timeout_seconds",
)


def secret_name(job: Job) -> str | None:
    """The secret holding the credential: ``source.secret`` of the job, else of the recipe's
    ``defaults``."""
    name = job.source.get("secret")
    return str(name) if name else None


def credential(job: Job, what: str) -> str:
    """The credential's value from the tenant's secrets, then the environment (registered with
    the redactor either way); one clear problem when it is not set."""
    name = secret_name(job)
    if not name:
        raise ConfigError(
            [
                Problem(
                    job.file, "source.secret", f"names no secret holding the {job.source_entry.name} {what}"
                )
            ]
        )
    value = job.secrets.get(name) or os.environ.get(name)
    if not value:
        raise ConfigError(
            [
                Problem(
                    job.file,
                    "source.secret",
                    f"the {job.source_entry.name} {what} {name} is not set (tenant secrets "
                    f"<secrets-dir>/{job.tenant_id}/*.env or environment)",
                )
            ]
        )
    job.redactor.add(value)
    return value


def rest_config(job: Job) -> dict[str, Any]:
    """The REST settings of the job's source block (over the recipe's defaults), and the
    incremental start date and look-back."""
    source = job.source
    config: dict[str, Any] = {key: source[key] for key in REST_SETTINGS if key in source}
    if job.incremental.start_date:
        config["start_date"] = job.incremental.start_date
    if job.incremental.lookback_days is not None:
        config["lookback_days"] = job.incremental.lookback_days
    return config
