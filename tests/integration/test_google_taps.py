"""tap-gdrive-csv and tap-google-sheets as programs against the loopback Google emulator: exact
rows across pages, files and tabs; unchanged files not fetched, changed ones read again; the
service-account token flow, refusals as one line with exit 2, retries of 429 and 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dativo_singer.errors import FatalError
from dativo_singer.google_auth import DRIVE_READONLY, GoogleAuth, load_credentials
from tests.emulators.google import GoogleEmulator
from tests.emulators.server import serve
from tests.helpers.google import FOLDER, GoogleData, day, deals_csv, drive_config, populate, sheets_config
from tests.helpers.saas import run_tap

pytestmark = pytest.mark.integration


@pytest.fixture
def google() -> Iterator[GoogleData]:
    with serve(GoogleEmulator()) as emulator:
        yield populate(emulator)  # type: ignore[arg-type]


def _deals(records: list[dict]) -> list[tuple]:
    return [(r["deal_id"], r["deal_name"], r["stage"], r["amount"], r["is_won"], r["close_date"],
             r["_sdc_source_file_name"], r["_sdc_source_lineno"]) for r in records]


def _key_lines(data: GoogleData) -> list[str]:
    return [line for line in data.key["private_key"].splitlines() if not line.startswith("-----")]


def test_drive_rows_across_pages_then_only_changed_files(google: GoogleData, tmp_path: Path) -> None:
    google.emulator.page_size_cap = 2  # five listed files: three pages
    run = run_tap("tap-gdrive-csv", drive_config(google), tmp_path / "first")

    assert run.code == 0, run.stderr
    assert _deals(run.records("deals")) == [
        (1, "Acme renewal", "won", 1200.5, True, "2026-01-01", "deals_2026-01-01.csv", 2),
        (2, "Beta pilot", "open", 300.0, False, None, "deals_2026-01-01.csv", 3),
        (3, "Gamma, Inc. expansion", "lost", None, False, "2026-01-02", "deals_2026-01-02.csv", 2),
        (4, "Delta upsell", "open", 99.99, None, "2026-01-03", "deals_2026-01-03.csv", 2),
        (5, "Epsilon trial", "open", 0.0, False, "2026-01-04", "deals_2026-01-03.csv", 3),
        (6, "Zeta native", "won", 5000.0, True, "2026-01-04", "deals_2026-01-04", 2),
    ]
    first = run.records("deals")[0]
    assert first["_sdc_source_file"] == google.files["deals_2026-01-01.csv"]
    assert first["_sdc_source_version"] == "2026-01-01T00:00:00.000Z"
    assert google.emulator.count(r"/drive/v3/files\?.*pageToken") == 2  # pages 2 and 3 followed
    assert google.emulator.count(r"/export\?mimeType=text%2Fcsv") == 1  # the native spreadsheet
    [claims] = google.emulator.token_requests  # one token for the whole run, from a verified JWT
    assert claims["iss"] == google.key["client_email"] and claims["scope"] == DRIVE_READONLY
    assert not any(line in run.stdout + run.stderr for line in _key_lines(google))

    # One file is edited, one added, one moved in from another folder (keeping its old
    # modifiedTime); the others are not downloaded again.
    changed = google.files["deals_2026-01-02.csv"]
    google.emulator.files[changed].content = deals_csv(
        "3,Gamma expansion,won,2500,USD,true,cy@example.com,2026-01-06,2026-01-06T08:00:00Z").encode()
    google.emulator.files[changed].modified = day(6)
    added = google.emulator.add_file("deals_2026-01-07.csv", deals_csv("7,Eta,open,7,USD,false,e@example.com,,"),
                                     parents=[FOLDER], modified=day(7))
    moved = next(f for f in google.emulator.files.values() if f.name == "deals_elsewhere.csv")
    moved.parents = [FOLDER]
    before = len(google.emulator.requests)
    run2 = run_tap("tap-gdrive-csv", drive_config(google), tmp_path / "second", state=run.last_state)

    assert run2.code == 0, run2.stderr
    assert _deals(run2.records("deals")) == [
        (8, "Elsewhere", "won", 1.0, True, None, "deals_elsewhere.csv", 2),  # oldest modifiedTime first
        (3, "Gamma expansion", "won", 2500.0, True, "2026-01-06", "deals_2026-01-02.csv", 2),
        (7, "Eta", "open", 7.0, False, None, "deals_2026-01-07.csv", 2),
    ]
    assert run2.records("deals")[1]["_sdc_source_version"] == "2026-01-06T00:00:00.000Z"
    fetched = [r.path for r in google.emulator.requests[before:] if r.path.startswith("/drive/v3/files/")]
    assert fetched == [f"/drive/v3/files/{i}" for i in (moved.id, changed, added)]

    before = len(google.emulator.requests)
    config = drive_config(google, start_date="2026-01-05T00:00:00Z")
    run3 = run_tap("tap-gdrive-csv", config, tmp_path / "third", state=run2.last_state)
    assert run3.code == 0 and run3.records("deals") == []
    listing = [r for r in google.emulator.requests[before:] if r.path.startswith("/drive/")]
    assert [r.path for r in listing] == ["/drive/v3/files"]  # listed, nothing downloaded
    assert "modifiedTime >= '2026-01-05T00:00:00Z'" in dict(listing[0].query)["q"]


def test_sheets_rows_of_several_tabs_then_unchanged_not_read(google: GoogleData, tmp_path: Path) -> None:
    run = run_tap("tap-google-sheets", sheets_config(google), tmp_path / "first")

    assert run.code == 0, run.stderr
    rows = [{k: v for k, v in r.items() if not k.startswith("_sdc_")} for r in run.records("vendors")]
    assert rows == [
        {"vendor_id": 101, "vendor_name": "Acme Supplies", "country": "US", "payment_terms_days": 30,
         "rating": 4.5, "active": True, "onboarded_on": "2024-03-01"},
        {"vendor_id": 102, "vendor_name": "Beta Parts", "country": "DE", "payment_terms_days": 45,
         "rating": None, "active": False, "onboarded_on": None},
        {"vendor_id": 103, "vendor_name": "Gamma Logistics", "country": None, "payment_terms_days": 60,
         "rating": 3.0, "active": True, "onboarded_on": "2025-02-10"},
        {"vendor_id": 201, "vendor_name": "Delta Freight", "country": "FR"},
        {"vendor_id": 202, "vendor_name": "Epsilon Metals", "country": None},
    ]
    lines = [(r["_sdc_source_file"].split("/", 1)[1], r["_sdc_source_lineno"]) for r in run.records("vendors")]
    assert lines == [("Vendors", 2), ("Vendors", 3), ("Vendors", 4), ("'New vendors'!A1:C", 2),
                     ("'New vendors'!A1:C", 4)]
    [batch] = [r for r in google.emulator.requests if r.path.endswith("values:batchGet")]
    assert dict(batch.query)["valueRenderOption"] == "UNFORMATTED_VALUE"
    assert dict(batch.query)["dateTimeRenderOption"] == "FORMATTED_STRING"

    before = len(google.emulator.requests)
    run2 = run_tap("tap-google-sheets", sheets_config(google), tmp_path / "second", state=run.last_state)
    assert run2.code == 0 and run2.records("vendors") == []
    assert not [r for r in google.emulator.requests[before:] if r.path.startswith("/v4/")]

    # Edited: read again (one range: values.get), under the new modifiedTime.
    sheet = google.emulator.files[google.spreadsheet]
    sheet.tabs["Vendors"][1][1] = "Acme Supplies Ltd"
    sheet.modified = day(9)
    config = sheets_config(google)
    config["sheets"] = config["sheets"][:1]
    run3 = run_tap("tap-google-sheets", config, tmp_path / "third", state=run2.last_state)
    assert run3.code == 0, run3.stderr
    assert [r["vendor_name"] for r in run3.records("vendors")] == ["Acme Supplies Ltd", "Beta Parts", "Gamma Logistics"]
    assert {r["_sdc_source_version"] for r in run3.records("vendors")} == {"2026-01-09T00:00:00.000Z"}
    assert google.emulator.count(r"/values/Vendors\?") == 1


def _one_line_exit_2(run, *needles: str) -> str:
    lines = [line for line in run.stderr.splitlines() if ": error: " in line]
    assert run.code == 2 and len(lines) == 1, run.stderr
    assert all(n in lines[0] for n in needles), lines[0]
    return lines[0]


def test_bad_key_wrong_scope_and_no_access_exit_2_with_one_line(google: GoogleData, tmp_path: Path) -> None:
    with serve(GoogleEmulator()) as stranger:
        other_key = stranger.service_account_key(google.key["client_email"])  # not the registered key
    bad = dict(other_key, token_uri=google.key["token_uri"])
    run = run_tap("tap-gdrive-csv", drive_config(google, credentials_json=bad), tmp_path / "bad")
    _one_line_exit_2(run, f"folder {FOLDER}", "invalid_grant: Invalid JWT Signature.")
    assert not any(line in run.stdout + run.stderr for line in _key_lines(google) + [
        line for line in bad["private_key"].splitlines() if not line.startswith("-----")])

    narrow = google.emulator.service_account_key(
        "sheets-only@acme-data.iam.gserviceaccount.com",
        allowed_scopes={"https://www.googleapis.com/auth/spreadsheets.readonly"})
    run = run_tap("tap-gdrive-csv", drive_config(google, credentials_json=narrow), tmp_path / "scope")
    _one_line_exit_2(run, f"folder {FOLDER}", "unauthorized_client")

    google.emulator.files[google.spreadsheet].readers = {"someone@else.example"}
    run = run_tap("tap-google-sheets", sheets_config(google), tmp_path / "denied")
    _one_line_exit_2(run, f"spreadsheet {google.spreadsheet}", "not found, or not shared with service account")

    # The owner disabled downloads for viewers: Drive answers 403 cannotDownloadFile.
    file_id = google.files["deals_2026-01-02.csv"]
    google.emulator.fail(rf"/drive/v3/files/{file_id}\?alt=media", 403, reason="cannotDownloadFile")
    run = run_tap("tap-gdrive-csv", drive_config(google), tmp_path / "file")
    _one_line_exit_2(run, f"file {file_id} (deals_2026-01-02.csv)", "cannotDownloadFile")


def test_429_and_5xx_are_retried_then_bounded(google: GoogleData, tmp_path: Path) -> None:
    google.emulator.fail(r"/drive/v3/files\?", 429, times=2, retry_after="0")
    google.emulator.fail(r"alt=media", 503, times=2)
    google.emulator.fail(r"alt=media", 403, reason="userRateLimitExceeded")  # Drive's 403 rate limit
    google.emulator.fail(r"/drive/v3/files/[^?]+\?alt=media", 401)  # an access token revoked mid-run
    run = run_tap("tap-gdrive-csv", drive_config(google), tmp_path / "retried")
    assert run.code == 0, run.stderr
    assert [r["deal_id"] for r in run.records("deals")] == [1, 2, 3, 4, 5, 6]
    assert run.stderr.count("attempt") >= 5 and len(google.emulator.token_requests) == 2

    google.emulator.fail(r"/v4/spreadsheets/", 500, times=50)
    run = run_tap("tap-google-sheets", sheets_config(google, max_tries=3), tmp_path / "bounded")
    lines = [line for line in run.stderr.splitlines() if ": error: " in line]
    assert run.code == 75 and len(lines) == 1 and "after 3 attempts" in lines[0], run.stderr
    assert f"spreadsheet {google.spreadsheet}" in lines[0]
    assert google.emulator.count(r"/v4/spreadsheets/") == 3


def test_oauth_refresh_token_and_token_refreshed_before_expiry(google: GoogleData, tmp_path: Path) -> None:
    google.emulator.oauth_client("client-1.apps.example", "client-secret-value", "refresh-token-value")
    config = sheets_config(google, client_id="client-1.apps.example", client_secret="client-secret-value",
                           refresh_token="refresh-token-value", token_uri=f"{google.emulator.url}/token")
    del config["credentials_json"]
    run = run_tap("tap-google-sheets", config, tmp_path / "oauth")
    assert run.code == 0, run.stderr
    assert len(run.records("vendors")) == 5
    assert "refresh-token-value" not in run.stdout + run.stderr

    # google-auth treats a token as expired minutes before it is: a short-lived token is replaced.
    google.emulator.token_lifetime = 120
    auth = GoogleAuth(load_credentials({"credentials_json": google.key}, [DRIVE_READONLY]))
    first = auth.headers()
    assert auth.headers() != first and len(google.emulator.token_requests) == 3
    google.emulator.token_lifetime = 3600
    steady = auth.headers()
    assert auth.headers() == steady


def test_bad_credentials_settings_are_refused_before_any_request(tmp_path: Path) -> None:
    with pytest.raises(FatalError, match="credentials_json: missing private_key"):
        load_credentials({"credentials_json": {"type": "service_account", "client_email": "a@b",
                                               "token_uri": "http://127.0.0.1:9/token"}}, [DRIVE_READONLY])
    run = run_tap("tap-google-sheets", {"sheets": [], "credentials_json": "{not json"}, tmp_path / "c")
    _one_line_exit_2(run, "credentials_json: not JSON", "sheets: is required")
