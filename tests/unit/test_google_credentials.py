"""The Google plugins' credentials: the tenant secret the job names becomes the taps' settings,
and the private key is masked in whatever the runner prints."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from dativo_runner.errors import ConfigError
from dativo_runner.plugins.sources.google_common import google_credentials
from dativo_runner.secrets import Redactor

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n"


def _job(secret: str | None) -> Any:
    secrets = {"GOOGLE_SERVICE_ACCOUNT_KEY": secret} if secret is not None else {}
    return SimpleNamespace(file="jobs/acme/g.yaml", tenant_id="acme", secrets=secrets, redactor=Redactor(),
                           source={"secret": "GOOGLE_SERVICE_ACCOUNT_KEY"},
                           source_entry=SimpleNamespace(name="gdrive_csv"))


def test_a_service_account_key_becomes_credentials_json_and_its_key_is_masked() -> None:
    key = {"type": "service_account", "client_email": "l@p.iam.gserviceaccount.com", "private_key": PEM,
           "token_uri": "https://oauth2.googleapis.com/token"}
    job = _job(json.dumps(key))
    assert google_credentials(job) == {"credentials_json": key}
    text = f"oops {PEM} and {json.dumps(PEM)} and BKcwggSjAgEAAoIBAQC7"
    assert "MIIEvQ" not in job.redactor.redact(text) and "BKcwgg" not in job.redactor.redact(text)


def test_authorized_user_json_becomes_the_refresh_token_settings() -> None:
    user = {"type": "authorized_user", "client_id": "c.apps", "client_secret": "s3cret-value",
            "refresh_token": "1//refresh-value"}
    job = _job(json.dumps(user))
    assert google_credentials(job) == {"client_id": "c.apps", "client_secret": "s3cret-value",
                                       "refresh_token": "1//refresh-value"}
    assert job.redactor.redact("1//refresh-value s3cret-value") == "**** ****"


@pytest.mark.parametrize(("secret", "message"), [
    (None, "GOOGLE_SERVICE_ACCOUNT_KEY is not set"),
    ("{not json", "the secret GOOGLE_SERVICE_ACCOUNT_KEY is not JSON"),
    ('{"type": "authorized_user", "client_id": "c"}', "lacks client_secret, refresh_token"),
])
def test_a_missing_or_unusable_secret_is_one_problem_naming_it(secret: str | None, message: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_SERVICE_ACCOUNT_KEY", raising=False)
    with pytest.raises(ConfigError) as caught:
        google_credentials(_job(secret))
    [problem] = caught.value.problems
    assert problem.field == "source.secret" and message in str(problem)
    assert "{not json" not in str(problem)
