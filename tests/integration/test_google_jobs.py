"""End to end: the Google Drive and Google Sheets jobs through `dativo validate` (offline, no key)
and `dativo run` against the loopback Google emulator, read back from the Iceberg tables; a
changed file replaces its rows, unchanged ones are not fetched; the key appears in no output."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import yaml
from target_iceberg.catalog import open_catalog

from tests.emulators.google import GoogleEmulator
from tests.emulators.server import serve
from tests.helpers.google import FOLDER, GoogleData, day, deals_csv, populate
from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration

FAST = {"max_requests_per_second": 0, "backoff_base_seconds": 0.005, "max_backoff_seconds": 0.02}
SALT = "google-test-salt"


@pytest.fixture
def google() -> Iterator[GoogleData]:
    with serve(GoogleEmulator()) as emulator:
        yield populate(emulator)  # type: ignore[arg-type]


def _job(project: Project, name: str, source: dict[str, Any]) -> str:
    job = yaml.safe_load((REPO / "jobs" / "acme" / f"{name}.yaml").read_text())
    job["source"].update(**FAST, **source)
    return str(project.write_job(name, job))


def _secrets(project: Project, data: GoogleData) -> str:
    project.write("secrets/acme/google.json", json.dumps({"GOOGLE_SERVICE_ACCOUNT_KEY": data.key,
                                                          "DATIVO_HASH_SALT": SALT}))
    return str(project.root / "secrets")


def _rows(project: Project, table: str, key: str) -> dict[Any, dict[str, Any]]:
    catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
    rows = catalog.load_table(table).scan().to_arrow().to_pylist()
    by_key = {r[key]: r for r in rows}
    assert len(by_key) == len(rows), "a row landed twice"
    return by_key


def _no_key_anywhere(project: Project, data: GoogleData, *outputs: str) -> None:
    everything = "".join(outputs)
    for path in project.files_under("state") + project.files_under(".dativo") + project.files_under("jobs"):
        everything += path.read_text(errors="replace")
    lines = [line for line in data.key["private_key"].splitlines() if not line.startswith("-----")]
    assert not [line for line in lines if line in everything]


def test_repo_google_jobs_validate_offline_naming_the_missing_key(project: Project) -> None:
    for name in ("gdrive_deals_to_iceberg", "gsheets_vendors_to_iceberg"):
        shutil.copy(REPO / "jobs" / "acme" / f"{name}.yaml", project.write_job(name, {}))
    result = project.dativo("validate", "--job-dir", "jobs", env={"GOOGLE_SERVICE_ACCOUNT_KEY": ""})
    assert result.returncode == 2 and "2 jobs checked, 2 invalid" in result.stdout
    assert result.stderr.count("GOOGLE_SERVICE_ACCOUNT_KEY is not set") == 2, result.stderr
    result = project.dativo("validate", "--job-dir", "jobs", "--no-secrets", env={"GOOGLE_SERVICE_ACCOUNT_KEY": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 jobs checked, 0 invalid" in result.stdout


def test_gdrive_deals_job_lands_rows_then_replaces_a_changed_file(project: Project, google: GoogleData) -> None:
    job = _job(project, "gdrive_deals_to_iceberg", {"api_url": google.emulator.url,
                                                    "files": [{"folder_id": FOLDER, "name_pattern": "deals_*"}]})
    secrets = _secrets(project, google)
    # A first run dies on the third file (Drive keeps failing past max_tries): nothing it read
    # without a STATE after it is committed, and the next run loads every row exactly once.
    google.emulator.fail(google.files["deals_2026-01-03.csv"] + r"\?alt=media", 503, times=8)

    code, summary, stderr = project.run_json("--config", job, "--secrets-dir", secrets)

    assert code == 2 and summary.get("retriable") is True, stderr
    code, summary, stderr = project.run_json("--config", job, "--secrets-dir", secrets)

    assert code == 0, stderr
    rows = _rows(project, "acme.gdrive_deals_daily", "deal_id")
    assert sorted(rows) == [1, 2, 3, 4, 5, 6] and summary["streams"][0]["rows"] == 6
    assert rows[1]["amount"] == Decimal("1200.50") and rows[1]["is_won"] is True
    assert rows[1]["close_date"] == dt.date(2026, 1, 1) and rows[2]["close_date"] is None
    assert rows[1]["updated_at"] == dt.datetime(2026, 1, 1, 9, tzinfo=dt.timezone.utc)
    assert rows[1]["owner_email"] == hashlib.sha256((SALT + "ann@example.com").encode()).hexdigest()
    assert rows[6]["deal_name"] == "Zeta native"  # the native spreadsheet, exported as CSV
    assert rows[3]["_sdc_source_file"] == google.files["deals_2026-01-02.csv"]

    # deals_2026-01-03.csv is edited: deal 4 changes, deal 5 is removed from it.
    edited = google.files["deals_2026-01-03.csv"]
    google.emulator.files[edited].content = deals_csv(
        "4,Delta upsell,won,150.00,USD,true,dee@example.com,2026-01-08,2026-01-08T08:00:00Z").encode()
    google.emulator.files[edited].modified = day(8)
    before = len(google.emulator.requests)

    code, summary, stderr = project.run_json("--config", job, "--secrets-dir", secrets)

    assert code == 0, stderr
    rows = _rows(project, "acme.gdrive_deals_daily", "deal_id")
    assert sorted(rows) == [1, 2, 3, 4, 6]
    assert rows[4]["stage"] == "won" and rows[4]["amount"] == Decimal("150.00")
    assert rows[4]["_sdc_source_version"] == "2026-01-08T00:00:00.000Z"
    downloads = [r.path for r in google.emulator.requests[before:] if r.path.startswith("/drive/v3/files/")]
    assert downloads == [f"/drive/v3/files/{edited}"]
    _no_key_anywhere(project, google, json.dumps(summary), stderr)


def test_gsheets_vendors_job_lands_typed_rows_and_skips_unchanged(project: Project, google: GoogleData) -> None:
    job = _job(project, "gsheets_vendors_to_iceberg", {
        "api_url": google.emulator.url, "drive_api_url": google.emulator.url,
        "sheets": [{"spreadsheet_id": google.spreadsheet, "range": "Vendors"},
                   {"spreadsheet_id": google.spreadsheet, "range": "'New vendors'!A1:C"}]})
    secrets = _secrets(project, google)

    code, summary, stderr = project.run_json("--config", job, "--secrets-dir", secrets)

    assert code == 0, stderr
    rows = _rows(project, "acme.gsheets_vendors_master", "vendor_id")
    assert sorted(rows) == [101, 102, 103, 201, 202]
    assert rows[101]["onboarded_on"] == dt.date(2024, 3, 1) and rows[101]["rating"] == 4.5
    assert rows[102]["active"] is False and rows[102]["rating"] is None and rows[102]["onboarded_on"] is None
    assert rows[103]["payment_terms_days"] == 60 and rows[103]["country"] is None
    assert rows[202]["country"] is None and rows[201]["vendor_name"] == "Delta Freight"

    before = len(google.emulator.requests)
    code, summary, stderr = project.run_json("--config", job, "--secrets-dir", secrets)
    assert code == 0, stderr
    assert not [r for r in google.emulator.requests[before:] if r.path.startswith("/v4/")]
    assert len(_rows(project, "acme.gsheets_vendors_master", "vendor_id")) == 5
    _no_key_anywhere(project, google, json.dumps(summary), stderr)


def test_bad_key_fails_the_job_with_one_line(project: Project, google: GoogleData) -> None:
    job = _job(project, "gsheets_vendors_to_iceberg", {
        "api_url": google.emulator.url, "drive_api_url": google.emulator.url,
        "sheets": [{"spreadsheet_id": google.spreadsheet, "range": "Vendors"}]})
    with serve(GoogleEmulator()) as stranger:
        other = stranger.service_account_key(google.key["client_email"])
    google.key = dict(other, token_uri=google.key["token_uri"])
    secrets = _secrets(project, google)

    result = project.dativo("run", "--config", job, "--secrets-dir", secrets)

    assert result.returncode == 2
    assert f"spreadsheet {google.spreadsheet}" in result.stderr and "Invalid JWT Signature" in result.stderr
    _no_key_anywhere(project, google, result.stdout, result.stderr)


def test_gsheets_vendors_to_minio_lands_jsonl_files_with_manifests(project: Project, google: GoogleData) -> None:
    """The README's `gsheets_vendors_to_minio` job: the same rows as gzip JSON lines on an
    S3-compatible store (SeaweedFS, path-style), read back through the manifests."""
    from tests import services
    from tests.helpers import objects

    store, bucket, prefix = services.seaweedfs(), objects.s3_bucket(), objects.unique_prefix("gsheets")
    job = yaml.safe_load((REPO / "jobs" / "acme" / "gsheets_vendors_to_minio.yaml").read_text())
    job["source"].update(**FAST, api_url=google.emulator.url, drive_api_url=google.emulator.url,
                         sheets=[{"spreadsheet_id": google.spreadsheet, "range": "Vendors"},
                                 {"spreadsheet_id": google.spreadsheet, "range": "'New vendors'!A1:C"}])
    job["target"]["connection"]["s3"]["prefix"] = prefix
    path = str(project.write_job("gsheets_vendors_to_minio", job))
    env = {"MINIO_BUCKET": bucket.name, "MINIO_ENDPOINT": store.s3_endpoint,
           "MINIO_ACCESS_KEY_ID": store.access_key, "MINIO_SECRET_ACCESS_KEY": store.secret_key}

    code, summary, stderr = project.run_json("--config", path, "--secrets-dir", _secrets(project, google), env=env)

    assert code == 0, stderr
    root = f"{prefix}/acme/vendors_master"
    entries = objects.check_manifests_match_objects(bucket, root)
    assert entries and all(e["key"].endswith(".jsonl.gz") for e in entries)
    rows = {r["vendor_id"]: r for r in objects.rows(bucket, root, key="vendor_id") or []}
    assert sorted(rows) == [101, 102, 103, 201, 202]
    assert rows[101]["onboarded_on"] == "2024-03-01" and rows[101]["rating"] == Decimal("4.5")
    assert rows[102]["active"] is False and rows[102]["rating"] is None
    assert rows[201]["vendor_name"] == "Delta Freight"
    _no_key_anywhere(project, google, json.dumps(summary), stderr)
