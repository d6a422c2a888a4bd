"""Which job field and which ``${VAR}`` fed a setting an error names, so the line says what to change.

A tap reports ``host/port: cannot connect to 127.0.0.1:5432``; the user wrote
``port: ${PG_PORT:-5432}``. The hint added to the line names both: the field and the variable,
and whether the variable was set (never its value).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dativo_runner.job_config import Job

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def variables_of(job: Job, field: str) -> list[tuple[str, bool]]:
    """The variables the job's ``field`` (``source.connection.port``) was built from, with
    whether each was set."""
    return [(name, is_set) for where, name, is_set in job.references if where == field]


def setting_hint(job: Job, side: str, error: str) -> str:
    """``"; settings: source.connection.port=${PG_PORT} (PG_PORT not set: the job's default
    was used)"`` for the ``${VAR}``-fed settings of the ``side`` block the error names, or ``""``."""
    words = set(_WORD.findall(error))
    found = [
        (where, name, is_set)
        for where, name, is_set in job.references
        if where.startswith(f"{side}.") and where.rpartition(".")[2] in words
    ]
    if not found:
        return ""
    settings = ", ".join(dict.fromkeys(f"{where}=${{{name}}}" for where, name, _ in found))
    unset = list(dict.fromkeys(name for _, name, is_set in found if not is_set))
    if unset:
        settings += f" ({' and '.join(unset)} not set: the job's default was used)"
    return f"; settings: {settings}"


def aws_credentials_available() -> bool:
    """True when boto3's chain can find credentials without the network: AWS variables, a
    profile, a web-identity or container token, or a shared credentials/config file."""
    names = (
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    )
    if any(os.environ.get(name) for name in names):
        return True
    files = (
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials",
        os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config",
    )
    return any(Path(file).expanduser().is_file() for file in files)


def s3_credentials_problem(job: Job, s3: dict[str, object], field: str) -> str | None:
    """Why a job writing to an S3-compatible endpoint has no credentials (offline), or None.
    Only for an explicit ``endpoint``: on AWS itself an instance role may still provide them."""
    if s3.get("access_key_id") or not s3.get("endpoint") or aws_credentials_available():
        return None
    wanted = [f"{field}.{key}" for key in ("access_key_id", "secret_access_key")]
    variables = [name for where in wanted for name, _ in variables_of(job, where)]
    feed = " and ".join(variables) if variables else "access_key_id and secret_access_key"
    return (
        f"no credentials: set {feed} (tenant secrets <secrets-dir>/{job.tenant_id}/*.env or "
        "environment), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    )
