"""Personal data by value for database and API sources: `dativo discover` and `dativo generate
config` sample a PostgreSQL table, a MariaDB table and a Stripe stream (the emulator) through their
taps and flag the columns whose values look like e-mail addresses, phone numbers, IBANs... whatever
the columns are called; the sampled values are printed nowhere."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.emulators.server import serve
from tests.emulators.stripe import API_KEY, StripeEmulator
from tests.helpers.databases import mariadb_database, pg_schema
from tests.helpers.project import Project
from tests.integration.test_discover_generate import _ok, _secrets

pytestmark = pytest.mark.integration

CONTACTS = ["ann.pii@example.com", "bob.pii@example.org", "cy.pii@example.net", "di.pii@example.com"]
IBANS = ["DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606", None]
PHONES = ["+44 20 7946 0958", "+1 415-555-0100", "+49 30 901820", "+33 1 70 36 39 50"]


def _pii(stream: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["pii"] for f in stream["fields"] if f.get("pii")}


def _connection(service: Any, database: str) -> list[str]:
    return [
        "--host",
        service.host,
        "--port",
        str(service.port),
        "--user",
        service.user,
        "--database",
        database,
    ]


def test_database_columns_whose_values_are_personal_are_flagged(
    project: Project, pg_service: Any, mariadb_service: Any
) -> None:
    rows = list(zip(range(1, 5), CONTACTS, IBANS, PHONES, strict=True))
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(
            f'CREATE TABLE "{schema}".leads (lead_id int PRIMARY KEY, contact text, ref text, note text)'
        )
        cursor.executemany(
            f'INSERT INTO "{schema}".leads VALUES (%s, %s, %s, %s)',
            [(i, contact, iban, f"note {i}") for i, contact, iban, _ in rows],
        )
        pg = project.dativo(
            "discover",
            "--connector",
            "postgres",
            *_connection(pg_service, pg_service.db),
            "--object",
            f"{schema}.leads",
            "--json",
        )
    with mariadb_database(mariadb_service) as (database, my):
        my.execute("CREATE TABLE leads (lead_id INT PRIMARY KEY, contact VARCHAR(80), reach VARCHAR(40))")
        my.executemany("INSERT INTO leads VALUES (%s, %s, %s)", [(i, c, p) for i, c, _, p in rows])
        text = project.dativo(
            "discover", "--connector", "mysql", *_connection(mariadb_service, database), "--object", "leads"
        )
        generated = project.dativo(
            "generate",
            "config",
            "--source",
            "mysql",
            "--object",
            "leads",
            "--tenant",
            "acme",
            *_connection(mariadb_service, database),
            "--secrets-dir",
            _secrets(project),
        )
        asset = yaml.safe_load((project.root / "assets/mysql/v1.0/leads.yaml").read_text())["asset"]

    (leads,) = json.loads(_ok(pg))["streams"]
    assert _pii(leads) == {"contact": "email", "ref": "iban"}
    assert "values of 4 rows checked for personal data" in leads["notes"]
    assert "  contact  string         PII? values look like emails" in _ok(text)
    assert "  reach    string         PII? values look like phones" in _ok(text)
    assert "PII guessed: contact, reach" in _ok(generated)
    classified = {f["name"]: f.get("classification") for f in asset["schema"]}
    assert classified == {"lead_id": None, "contact": "PII", "reach": "PII"}
    for result in (pg, text, generated):  # the sampled values are printed nowhere
        assert not any(value in result.stdout + result.stderr for value in [*CONTACTS, *PHONES, "DE89"])


def test_an_api_stream_is_sampled_through_its_tap(project: Project) -> None:
    with serve(StripeEmulator({"customers": 5})) as emulator:
        stripe: StripeEmulator = emulator  # type: ignore[assignment]
        for customer in stripe.objects["customers"]:
            customer["description"] = f"{customer['id'].lower()}.pii@example.com"
        out = _ok(
            project.dativo(
                "discover",
                "--connector",
                "stripe",
                "--tenant",
                "acme",
                "--api-url",
                stripe.url,
                "--secrets-dir",
                _secrets(project, STRIPE_API_KEY=API_KEY),
                "--object",
                "customers",
                "--set",
                "max_requests_per_second=0",
                "--json",
            )
        )
    (customers,) = json.loads(out)["streams"]
    flagged = _pii(customers)
    assert flagged.get("description") == "email", flagged  # a column no name guess would flag
    assert "@example.com" not in out
