"""Google Drive ``q`` expressions are escaped: a folder id holding quotes, backslashes and
``or`` clauses lists exactly the files of that (oddly named) folder, never another folder's, and
a name pattern with quotes and backslashes matches literally; against the loopback emulator,
whose parser (tests/emulators/google_query.py) follows Drive's documented quoting."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.emulators.google import GoogleEmulator
from tests.emulators.google_query import compile_query
from tests.emulators.server import serve
from tests.helpers.google import OTHER_FOLDER, GoogleData, day, deals_csv, drive_config
from tests.helpers.saas import run_tap

pytestmark = pytest.mark.integration

HOSTILE_FOLDER = f"F\\' or '{OTHER_FOLDER}' in parents or '"
PATTERN = "o'brien\\deals*"


def test_emulator_parser_reads_escaped_quotes_and_backslashes() -> None:
    matches = compile_query(r"name = 'o\'brien\\x' and trashed = false")
    assert matches({"name": "o'brien\\x", "trashed": False, "parents": []})
    assert not matches({"name": "o'brien", "trashed": False, "parents": []})


def test_hostile_folder_id_and_name_pattern_cannot_widen_the_listing(tmp_path: Path) -> None:
    with serve(GoogleEmulator()) as emulator:
        data = GoogleData(emulator, emulator.service_account_key())  # type: ignore[arg-type]
        row = "1,Mine,won,1,USD,true,a@example.com,2026-01-01,2026-01-01T09:00:00Z"
        emulator.add_file("o'brien\\deals_1.csv", deals_csv(row), parents=[HOSTILE_FOLDER], modified=day(1))
        emulator.add_file(
            "obrien_deals_2.csv",
            deals_csv(row.replace("1,Mine", "2,Near")),
            parents=[HOSTILE_FOLDER],
            modified=day(1),
        )
        emulator.add_file(
            "o'brien\\deals_3.csv",
            deals_csv(row.replace("1,Mine", "3,Other")),
            parents=[OTHER_FOLDER],
            modified=day(1),
        )
        config = drive_config(
            data, files=[{"object": "deals", "folder_id": HOSTILE_FOLDER, "name_pattern": PATTERN}]
        )
        run = run_tap("tap-gdrive-csv", config, tmp_path / "tap")
    assert run.code == 0, run.stderr[-2000:]
    assert [r["deal_name"] for r in run.records("deals")] == ["Mine"]
