"""What the Google sources' plugins share: the key (or user credentials) from the tenant's
secrets, as the tap settings `credentials_json` or `client_id`/`client_secret`/`refresh_token`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.plugins.sources.api_common import credential, rest_config, secret_name

if TYPE_CHECKING:
    from dativo_runner.job_config import Job

_USER_FIELDS = ("client_id", "client_secret", "refresh_token")


def _remember_key_parts(job: Job, value: dict[str, Any]) -> None:
    """Mask the private key (and its PEM lines) and user secrets wherever they might be echoed."""
    for name in ("private_key", "client_secret", "refresh_token"):
        text = value.get(name)
        if isinstance(text, str):
            job.redactor.add(text)
            for line in text.splitlines():
                if not line.startswith("-----"):
                    job.redactor.add(line)


def google_credentials(job: Job) -> dict[str, Any]:
    """Tap settings for the secret the job names (``source.secret``): a service-account key
    (the JSON file Google gives) or user credentials (``authorized_user`` JSON with client_id,
    client_secret and refresh_token); one problem naming the secret when it is neither."""
    text = credential(job, "service-account key")
    where = f"the secret {secret_name(job)}"
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(
            [Problem(job.file, "source.secret", f"{where} is not JSON (a Google key file)")]
        ) from None
    if not isinstance(value, dict):
        raise ConfigError([Problem(job.file, "source.secret", f"{where} is not a JSON object")])
    _remember_key_parts(job, value)
    user = value.get("type") == "authorized_user"
    if user or (not value.get("private_key") and value.get("refresh_token")):
        missing = [name for name in _USER_FIELDS if not value.get(name)]
        if missing:
            raise ConfigError([Problem(job.file, "source.secret", f"{where} lacks {', '.join(missing)}")])
        config = {name: value[name] for name in _USER_FIELDS}
        if value.get("token_uri"):
            config["token_uri"] = value["token_uri"]
        return config
    return {"credentials_json": value}


def google_config(job: Job) -> dict[str, Any]:
    """Credentials and the REST settings (api_url, rate, retries) of the job's source block."""
    config = rest_config(job)
    config.pop("lookback_days", None)
    config.update(google_credentials(job))
    return config


def object_problems(job: Job, entries: list[dict[str, Any]], setting: str) -> list[Problem]:
    """Each entry of ``source.<setting>`` names the asset's object (or none)."""
    return [
        Problem(job.file, f"source.{setting}[{i}].object", f"is not the asset's object {job.asset.object!r}")
        for i, entry in enumerate(entries)
        if entry.get("object", job.asset.object) != job.asset.object
    ]
