"""What each program advertises in `--about --format json` is what it honours, with the type a
Meltano user's value is passed as: ``emit_activate_version_messages`` (a boolean wherever a tap
emits ACTIVATE_VERSION, on by default), no ``use_singer_decimal``,
``batch_config`` compressions that are all written, the targets' end-of-input setting. A string
``"false"`` is refused rather than taken for true."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

PROGRAMS = {
    "tap-csv": "tap_csv.tap",
    "tap-gdrive-csv": "tap_gdrive_csv.tap",
    "tap-google-sheets": "tap_google_sheets.tap",
    "tap-hubspot": "tap_hubspot.tap",
    "tap-markdown-kv": "tap_markdown_kv.tap",
    "tap-mysql": "tap_mysql.tap",
    "tap-postgres": "tap_postgres.tap",
    "tap-stripe": "tap_stripe.tap",
    "target-iceberg": "target_iceberg.target",
    "target-objects": "target_objects.target",
}
# Taps that emit ACTIVATE_VERSION for full-table streams, and the setting's default.
ACTIVATE_VERSION_DEFAULTS = {
    "tap-mysql": True,
    "tap-postgres": True,
    "tap-hubspot": True,
    "tap-stripe": True,
}


def _command(program: str) -> list[str]:
    return [sys.executable, "-c", f"from {PROGRAMS[program]} import main; main()"]


@cache
def _about(program: str) -> dict[str, Any]:
    result = subprocess.run(
        [*_command(program), "--about", "--format", "json"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    about: dict[str, Any] = json.loads(result.stdout)
    return about


def _types(prop: dict[str, Any]) -> set[str]:
    kind = prop.get("type")
    return set(kind) if isinstance(kind, list) else {kind}


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_about_advertises_the_settings_the_program_honours(program: str) -> None:
    about = _about(program)
    settings = about["settings"]["properties"]
    assert "use_singer_decimal" not in settings  # declared decimals are numbers (docs/DATABASES.md)

    emit = settings.get("emit_activate_version_messages")
    if program in ACTIVATE_VERSION_DEFAULTS:
        assert "activate-version" in about["capabilities"]
        assert emit is not None and _types(emit) <= {"boolean", "null"} and "boolean" in _types(emit)
        assert emit["default"] is ACTIVATE_VERSION_DEFAULTS[program]
    elif program.startswith("tap-"):
        assert emit is None and "activate-version" not in about["capabilities"]  # never emitted

    batch = settings["batch_config"]["properties"]["encoding"]["properties"]
    assert {"jsonl", "parquet"} <= set(batch["format"]["enum"])
    if program.startswith("tap-"):
        assert {"gzip", "none"} <= set(batch["compression"]["enum"])  # both written (docs/BATCH.md)

    if program.startswith("target-"):
        end_of_input = settings["commit_records_after_last_state"]
        assert "boolean" in _types(end_of_input) and end_of_input["default"] is True


@pytest.mark.parametrize("program", sorted(ACTIVATE_VERSION_DEFAULTS))
def test_a_string_false_never_turns_activate_version_on(program: str, tmp_path: Path) -> None:
    """Meltano passes a setting it does not know the type of as a string: refused, one line."""
    base = {
        "tap-postgres": {"host": "127.0.0.1", "port": 1, "user": "u", "database": "d"},
        "tap-mysql": {"host": "127.0.0.1", "port": 1, "user": "u", "database": "d"},
        "tap-stripe": {"api_key": "sk_test_x", "api_url": "http://127.0.0.1:1"},
        "tap-hubspot": {"access_token": "x", "api_url": "http://127.0.0.1:1"},
    }[program]
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**base, "emit_activate_version_messages": "false"}))
    result = subprocess.run(
        [*_command(program), "--config", str(config), "--discover"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"{program}: error: 'false' is not of type 'boolean', 'null' in "
        "config['emit_activate_version_messages']"
    )
