"""What the Google sources' plugins share: the key (or user credentials) from the tenant's
secrets, as the tap settings `credentials_json` or `client_id`/`client_secret`/`refresh_token`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.plugins.base import SourcePlugin
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


class GoogleObjectSource(SourcePlugin):
    """A Google source whose job lists entries (``source.<entries_setting>``: folders, ranges)
    read into the asset's one object, typed by its schema."""

    applies_column_policies = True  # its tap is a dativo_singer PolicyTap
    entries_setting = ""  # the job's source key listing what to read, and the tap's setting
    connector = ""

    def entries(self, job: Job) -> list[dict[str, Any]]:
        """The tap's entries: the job's, each naming the asset's object."""
        return [{"object": job.asset.object, **entry} for entry in job.source[self.entries_setting]]

    def check(self, job: Job) -> list[Problem]:
        """At least one entry; every entry names the asset's object. No network: validate works
        offline, and the key is only read by `dativo run`."""
        entries = job.source.get(self.entries_setting) or []
        if not entries:
            where = f"source.{self.entries_setting}"
            return [Problem(job.file, where, f"is required for the {self.connector} connector")]
        return object_problems(job, entries, self.entries_setting)

    def plan_config(self, job: Job) -> dict[str, Any]:
        """Credentials, the entries, schema and key of the asset's object."""
        problems = self.check(job)
        if problems:
            raise ConfigError(problems)
        config = google_config(job)
        config.update(
            {
                self.entries_setting: self.entries(job),
                "schemas": {job.asset.object: job.asset.json_schema()},
                "key_properties": {job.asset.object: list(job.asset.primary_key)},
                # Values that do not parse reach the target, which dead-letters the record with the reason.
                "on_invalid_value": "pass",
            }
        )
        return config
