"""Interpolation of ${VAR} / ${VAR:-default} and the redactor."""

from __future__ import annotations

from pathlib import Path

import pytest

from dativo_runner.errors import ConfigError
from dativo_runner.secrets import Interpolator, Redactor, load_tenant_secrets


def _interp(secrets: dict[str, str], env: dict[str, str]) -> tuple[Interpolator, Redactor]:
    redactor = Redactor()
    return Interpolator(secrets=secrets, environ=env, redactor=redactor), redactor


def test_secrets_win_over_environment_and_defaults_apply() -> None:
    interp, _ = _interp({"TOKEN": "from-secrets"}, {"TOKEN": "from-env", "REGION": "eu"})
    data = {"a": "${TOKEN}", "b": ["x-${REGION}", "${MISSING:-fallback}"], "c": 3}
    assert interp.resolve(data, "job.yaml") == (
        {"a": "from-secrets", "b": ["x-eu", "fallback"], "c": 3},
        [],
    )


def test_every_unresolved_reference_is_reported_with_its_field() -> None:
    interp, _ = _interp({}, {})
    _, problems = interp.resolve(
        {"source": {"files": [{"path": "${A}"}]}, "target": {"x": "${B}"}}, "job.yaml"
    )
    messages = [str(p) for p in problems]
    assert messages == [
        "job.yaml: source.files[0].path: ${A} is not set (environment or secrets)",
        "job.yaml: target.x: ${B} is not set (environment or secrets)",
    ]


def test_secret_values_are_redacted_and_plain_env_values_are_not() -> None:
    interp, redactor = _interp({"API_KEY": "sk_abcdef"}, {"DB_PASSWORD": "hunter22", "REGION": "eu-west"})
    interp.resolve({"k": "${API_KEY}", "p": "${DB_PASSWORD}", "r": "${REGION}"}, "job.yaml")
    text = "key=sk_abcdef pass=hunter22 region=eu-west"
    assert redactor.redact(text) == "key=**** pass=**** region=eu-west"


def test_tenant_secret_files_env_and_json(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "a.env").write_text("# comment\nexport A=1\nB='two words'\n\nC=\"x=y\"\n")
    (folder / "b.json").write_text('{"D": "four", "E": {"nested": true}}')
    assert load_tenant_secrets(tmp_path, "acme") == {
        "A": "1",
        "B": "two words",
        "C": "x=y",
        "D": "four",
        "E": '{"nested": true}',
    }
    assert load_tenant_secrets(tmp_path, "other") == {}


def test_malformed_env_file_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "bad.env").write_text("GOOD=1\nthis is not an assignment\n")
    with pytest.raises(ConfigError, match=r"bad.env: line 2: expected NAME=value"):
        load_tenant_secrets(tmp_path, "acme")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dativo: error: x", "dativo: error: x"),  # the program name
        ("usage: dativo [-h]", "usage: dativo [-h]"),
        ("/work/dativo/jobs/a.yaml", "/work/dativo/jobs/a.yaml"),  # inside a path
        ("mydativo=1 dativos", "mydativo=1 dativos"),  # inside words
        ("access_key_id=dativo region=eu", "access_key_id=**** region=eu"),
        ("s3.access-key-id: dativo", "s3.access-key-id: ****"),
        ("{'access_key_id': 'dativo'}", "{'access_key_id': '****'}"),
        ('{"k": "dativo"}', '{"k": "****"}'),
        ("http://dativo:x@host", "http://dativo:x@host"),
        ("user:dativo@host", "user:****@host"),
        ("Credential=dativo/20240101/us-east-1", "Credential=****/20240101/us-east-1"),
        ("dativo", "****"),
        ("prefix-a-long-secret-value-99-suffix", "prefix-****-suffix"),  # long: masked anywhere
    ],
)
def test_a_short_secret_is_masked_only_where_it_stands_as_a_value(text: str, expected: str) -> None:
    redactor = Redactor()
    redactor.add("dativo")
    redactor.add("a-long-secret-value-99")
    assert redactor.redact(text) == expected
