"""Without a server: a missing AWS profile named by its variable, terminal text fitting."""

from __future__ import annotations

from pathlib import Path

import pytest

from dativo_runner.terminal_text import fit
from dativo_singer.errors import FatalError


def test_an_unknown_aws_profile_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from target_objects.stores.s3 import S3Store

    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    with pytest.raises(FatalError) as raised:
        S3Store.from_config({"bucket": "lake", "endpoint": "http://127.0.0.1:9"})
    assert str(raised.value) == (
        "AWS_PROFILE: profile 'no-such-profile' is not in ~/.aws/config or ~/.aws/credentials "
        "(unset AWS_PROFILE or name a profile there)"
    )


def test_fit_shortens_hashes_and_wraps_at_spaces() -> None:
    digest = "ab" * 32
    text = f"  a=1, email={digest}, name=Tailspin Toys - Support renewal, stage=prospecting"
    assert fit(text, width=40).splitlines() == [
        "  a=1, email=abababababab...,",
        "      name=Tailspin Toys - Support",
        "      renewal, stage=prospecting",
    ]
    assert fit(text, full=True, width=40) == text
