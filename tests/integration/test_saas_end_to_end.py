"""End to end: the README's Stripe and HubSpot jobs through `dativo run` against the loopback
emulators, read back from the Iceberg tables; updates made after the first load reach the table."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from target_iceberg.catalog import open_catalog

from tests.emulators.hubspot import TOKEN, HubSpotEmulator
from tests.emulators.server import serve
from tests.emulators.stripe import API_KEY, StripeEmulator
from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration

FAST = {"max_requests_per_second": 0, "backoff_base_seconds": 0.005, "max_backoff_seconds": 0.02}
SALT = "saas-test-salt"


@pytest.fixture
def stripe() -> Iterator[StripeEmulator]:
    with serve(StripeEmulator({"customers": 240})) as emulator:
        yield emulator


@pytest.fixture
def hubspot() -> Iterator[HubSpotEmulator]:
    with serve(HubSpotEmulator({"contacts": 260, "companies": 5, "deals": 5})) as emulator:
        yield emulator


def _job(project: Project, name: str, url: str) -> str:
    """The repo's job with ``api_url`` pointing at the emulator."""
    job = yaml.safe_load((REPO / "jobs" / "acme" / f"{name}.yaml").read_text())
    job["source"].update(api_url=url, **FAST)
    return str(project.write_job(name, job))


def _secrets(project: Project, **values: str) -> str:
    lines = [f"{k}={v}" for k, v in {**values, "DATIVO_HASH_SALT": SALT}.items()]
    project.write("secrets/acme/api.env", "\n".join(lines) + "\n")
    return str(project.root / "secrets")


def _rows(project: Project, table: str) -> dict[str, dict[str, Any]]:
    catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
    return {r["id"]: r for r in catalog.load_table(table).scan().to_arrow().to_pylist()}


def _hashed(value: str) -> str:
    return hashlib.sha256((SALT + value).encode()).hexdigest()


def test_stripe_customers_job_lands_exact_table_and_later_updates(
    project: Project, stripe: StripeEmulator
) -> None:
    job = _job(project, "stripe_customers_to_iceberg", stripe.url)
    secrets = _secrets(project, STRIPE_API_KEY=API_KEY)

    code, summary, stderr = project.run_json("--config", job, "--secrets-dir", secrets)

    assert code == 0, stderr
    rows = _rows(project, "acme.stripe_customers")
    expected = {c["id"]: c for c in stripe.objects["customers"]}
    assert set(rows) == set(expected) and summary["streams"][0]["rows"] == 240
    first = expected[sorted(expected)[0]]
    row = rows[first["id"]]
    assert row["created"] == dt.datetime.fromtimestamp(first["created"], tz=dt.timezone.utc)
    assert row["balance"] == 0 and row["currency"] == "usd" and row["delinquent"] is False
    assert row["email"] != first["email"] and len(row["email"]) == 64  # PII hashed by the policy

    # After the first load: one customer changes (a customer.updated event), one is new.
    changed = stripe.update("customers", first["id"], {"balance": -1250, "description": "VIP"})
    new = stripe.create("customers", description="brand new")

    code, summary, stderr = project.run_json("--config", job, "--secrets-dir", secrets)

    assert code == 0, stderr
    rows = _rows(project, "acme.stripe_customers")
    assert len(rows) == 241  # merged on id: the update replaced its row
    assert rows[changed["id"]]["balance"] == -1250 and rows[changed["id"]]["description"] == "VIP"
    assert rows[new["id"]]["description"] == "brand new"


def test_hubspot_contacts_job_lands_exact_table_and_later_updates(
    project: Project, hubspot: HubSpotEmulator
) -> None:
    job = _job(project, "hubspot_contacts_to_iceberg", hubspot.url)
    secrets = _secrets(project, HUBSPOT_ACCESS_TOKEN=TOKEN)

    code, summary, stderr = project.run_json("--config", job, "--secrets-dir", secrets)

    assert code == 0, stderr
    rows = _rows(project, "acme.hubspot_contacts")
    source = {r["id"]: r for r in hubspot.records["contacts"]}
    assert set(rows) == set(source)
    sample = source["1003"]["properties"]
    row = rows["1003"]
    assert row["lifecyclestage"] == sample["lifecyclestage"]
    assert row["hs_email_optout"] is (sample["hs_email_optout"] == "true")
    assert row["annualrevenue"] == pytest.approx(float(sample["annualrevenue"]))
    assert row["date_of_birth"] == dt.date(1990, 5, 17)
    assert row["createdate"] == dt.datetime(2024, 1, 1, 0, 0, 1, tzinfo=dt.timezone.utc)
    assert row["email"] == _hashed(sample["email"])
    assert rows["1000"]["phone"] is None  # an empty property stays empty

    hubspot.update("contacts", "1003", {"lifecyclestage": "evangelist", "annualrevenue": "42"})

    code, summary, stderr = project.run_json("--config", job, "--secrets-dir", secrets)

    assert code == 0, stderr
    assert summary["streams"][0]["rows"] >= 1
    rows = _rows(project, "acme.hubspot_contacts")
    assert len(rows) == 260
    assert rows["1003"]["lifecyclestage"] == "evangelist" and rows["1003"]["annualrevenue"] == 42


def test_wrong_key_fails_with_one_line_and_no_secret_anywhere(
    project: Project, stripe: StripeEmulator
) -> None:
    job = _job(project, "stripe_customers_to_iceberg", stripe.url)
    wrong = "sk_test_wrong0000000000000000000000Zq9x"
    secrets = _secrets(project, STRIPE_API_KEY=wrong)

    result = project.dativo("run", "--config", job, "--secrets-dir", secrets)

    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert any("Stripe rejected the api_key ****Zq9x" in line for line in errors), result.stderr
    everything = result.stdout + result.stderr
    for path in project.files_under("state") + project.files_under(".dativo"):
        everything += path.read_text(errors="replace")
    assert wrong not in everything and wrong[:-4] not in everything


def test_missing_secret_is_one_line_naming_it(project: Project, stripe: StripeEmulator) -> None:
    job = _job(project, "stripe_customers_to_iceberg", stripe.url)

    result = project.dativo("run", "--config", job, env={"STRIPE_API_KEY": ""})

    assert result.returncode == 2
    assert "STRIPE_API_KEY is not set" in result.stderr
