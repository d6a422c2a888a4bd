"""APIs failing mid-run, end to end through `dativo run`: the Stripe, HubSpot and Google emulators
answer scripted bursts of 429 (with each vendor's rate-limit headers), 5xx and connections dropped
half-way through a page. Within the retry budget the run completes with every row exactly once; a
burst longer than the budget ends in exit 2 with one line naming the API, the table and the state
file as they were, and the rerun completes exactly.

The scripts count requests from the first one the emulator sees in a run (`Faults.script`)."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from target_iceberg.catalog import open_catalog

from tests.emulators.google import GoogleEmulator
from tests.emulators.hubspot import TOKEN, HubSpotEmulator
from tests.emulators.server import Emulator, Faults, serve
from tests.emulators.stripe import API_KEY, StripeEmulator
from tests.helpers.faults import full_only, report
from tests.helpers.google import populate
from tests.helpers.project import REPO, Project

pytestmark = [pytest.mark.integration, pytest.mark.faults]

MAX_TRIES = 4
FAST = {
    "max_requests_per_second": 0,
    "backoff_base_seconds": 0.005,
    "max_backoff_seconds": 0.02,
    "request_timeout_seconds": 2,
    "max_tries": MAX_TRIES,
}


@dataclass
class Vendor:
    """One API's job: its emulator, the job and table, the key column and how to add a row."""

    name: str  # as the tap's error line names the API
    job: str
    table: str
    key: str
    emulator: Emulator
    source: dict[str, Any]
    secrets: dict[str, str]
    expected: Callable[[], set[Any]]
    add_row: Callable[[], None]


def _stripe() -> Iterator[Vendor]:
    with serve(StripeEmulator({"customers": 240})) as emulator:
        assert isinstance(emulator, StripeEmulator)
        yield Vendor(
            "Stripe",
            "stripe_customers_to_iceberg",
            "acme.stripe_customers",
            "id",
            emulator,
            {"api_url": emulator.url},
            {"STRIPE_API_KEY": API_KEY},
            lambda: {c["id"] for c in emulator.objects["customers"]},
            lambda: emulator.create("customers", description="new"),
        )


def _hubspot() -> Iterator[Vendor]:
    with serve(HubSpotEmulator({"contacts": 260, "companies": 1, "deals": 1})) as emulator:
        assert isinstance(emulator, HubSpotEmulator)
        yield Vendor(
            "HubSpot",
            "hubspot_contacts_to_iceberg",
            "acme.hubspot_contacts",
            "id",
            emulator,
            {"api_url": emulator.url},
            {"HUBSPOT_ACCESS_TOKEN": TOKEN},
            lambda: {c["id"] for c in emulator.records["contacts"]},
            lambda: _new_contact(emulator),
        )


def _new_contact(emulator: HubSpotEmulator) -> None:
    with emulator.lock:
        contact = emulator._make("contacts", 900, random.Random(1))
        emulator.records["contacts"].append(contact)
    emulator.update("contacts", contact["id"], {"firstname": "New"})  # modified now


def _google() -> Iterator[Vendor]:
    with serve(GoogleEmulator()) as emulator:
        assert isinstance(emulator, GoogleEmulator)
        data = populate(emulator)
        sheet = emulator.files[data.spreadsheet]
        tab = sheet.tabs["Vendors"]

        def add_row() -> None:
            tab.append([999, "Omega Supply", "NL", 30, 4, True])
            sheet.modified = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)

        yield Vendor(
            "Google",
            "gsheets_vendors_to_iceberg",
            "acme.gsheets_vendors_master",
            "vendor_id",
            emulator,
            {
                "api_url": emulator.url,
                "drive_api_url": emulator.url,
                "sheets": [{"spreadsheet_id": data.spreadsheet, "range": "Vendors"}],
            },
            {"GOOGLE_SERVICE_ACCOUNT_KEY": json.dumps(data.key)},
            lambda: {int(row[0]) for row in tab[1:]},
            add_row,
        )


VENDORS = {"stripe": _stripe, "hubspot": _hubspot, "google": _google}


@pytest.fixture(params=["stripe", pytest.param("hubspot", marks=full_only), pytest.param("google", marks=full_only)])
def vendor(request: pytest.FixtureRequest) -> Iterator[Vendor]:
    yield from VENDORS[request.param]()


class Run:
    """The vendor's job in a throwaway home; each `run` is one `dativo run --json`."""

    def __init__(self, project: Project, vendor: Vendor) -> None:
        self.project, self.vendor = project, vendor
        job = yaml.safe_load((REPO / "jobs" / "acme" / f"{vendor.job}.yaml").read_text())
        job["source"].update(**FAST, **vendor.source)
        self.job = str(project.write_job(vendor.job, job))
        project.write("secrets/acme/api.json", json.dumps({**vendor.secrets, "DATIVO_HASH_SALT": "s"}))
        self.state = project.root / "state" / "acme" / f"{vendor.job}.json"

    def run(self, faults: Faults) -> tuple[int, dict[str, Any], str]:
        self.vendor.emulator.faults = faults
        return self.project.run_json("--config", self.job, "--secrets-dir", str(self.project.root / "secrets"))

    def keys(self) -> list[Any]:
        """The key of every row in the table (duplicates kept); [] without a table."""
        catalog = open_catalog({"warehouse_dir": str(self.project.root / "warehouse")})
        if not catalog.table_exists(self.vendor.table):
            return []
        return catalog.load_table(self.vendor.table).scan().to_arrow().column(self.vendor.key).to_pylist()

    def snapshot(self) -> tuple[Any, str | None]:
        """The table's current snapshot id and the state file's text."""
        catalog = open_catalog({"warehouse_dir": str(self.project.root / "warehouse")})
        head = None
        if catalog.table_exists(self.vendor.table):
            current = catalog.load_table(self.vendor.table).current_snapshot()
            head = current.snapshot_id if current else None
        return head, self.state.read_text() if self.state.exists() else None


def _exactly_once(run: Run) -> None:
    keys = run.keys()
    assert len(keys) == len(set(keys)), "a row landed twice"
    assert set(keys) == run.vendor.expected()


def test_bursts_within_the_budget_complete_with_every_row_once(project: Project, vendor: Vendor) -> None:
    """429s (vendor headers), then 503, a dropped connection and 502 on one request: at most
    ``max_tries`` - 1 failures in a row, so every request is retried until it passes."""
    run = Run(project, vendor)
    script = {2: "429", 3: "429", 4: "429", 6: "503", 7: "drop", 8: "502"}
    faults = Faults(script=script, retry_after="0")

    code, summary, stderr = run.run(faults)

    assert code == 0, stderr
    assert faults.total == len([n for n in script if n <= faults.requests]) >= 4, faults.injected
    _exactly_once(run)
    assert summary["streams"][0]["rows"] == len(vendor.expected())
    report(f"{vendor.name} faults within the budget", faults=faults.injected, requests=faults.requests, exit=0)


def test_a_burst_past_the_budget_is_exit_2_with_nothing_changed_then_the_rerun_completes(
    project: Project, vendor: Vendor
) -> None:
    run = Run(project, vendor)
    assert run.run(Faults())[0] == 0
    vendor.add_row()
    before = run.snapshot()

    code, summary, stderr = run.run(Faults.burst("503", 3 * MAX_TRIES))

    assert code == 2, stderr
    error = summary["error"]
    assert summary["retriable"] is True and (vendor.name in error or vendor.emulator.url in error), error
    assert ("503" in error or "unavailable" in error.lower()) and "\n" not in error, error
    assert "Traceback" not in stderr
    assert run.snapshot() == before  # no commit, the state file as it was
    report(f"{vendor.name} 503 burst past the budget", faults=vendor.emulator.faults.injected, exit=2)
    code, summary, stderr = run.run(Faults())
    assert code == 0, stderr
    _exactly_once(run)


@full_only
def test_a_long_429_burst_mid_stream_leaves_state_no_further_than_the_table(
    project: Project, vendor: Vendor
) -> None:
    """A 429 burst from the second request on: what was committed and the state agree (a
    rerun repeats nothing and misses nothing)."""
    run = Run(project, vendor)

    code, summary, stderr = run.run(Faults.burst("429", 3 * MAX_TRIES, start=2))

    assert code == 2 and summary["retriable"] is True, stderr
    error = summary["error"]
    assert vendor.name in error or vendor.emulator.url in error, error
    assert "429" in error or "rate" in error.lower() or "quota" in error.lower(), error
    keys = run.keys()
    assert len(keys) == len(set(keys))
    report(f"{vendor.name} 429 burst mid-stream", faults=vendor.emulator.faults.injected, exit=2,
           rows_committed_before_rerun=len(keys))
    code, summary, stderr = run.run(Faults())
    assert code == 0, stderr
    _exactly_once(run)
