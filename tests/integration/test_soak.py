"""Soak: consecutive incremental `dativo run`s of every source with inserts, updates and (where the
source reports them) removals between runs; after each run the Iceberg table equals the source, and
with `dativo maintain` every fifth run snapshots and data files stay bounded (`tests/helpers/soak.py`).

Default (`make test`): 3 runs of csv, postgres and stripe. `DATIVO_SOAK_RUNS=N` (`make test-soak`:
30) soaks every source N times. `DATIVO_SOAK_REPORT=FILE` appends one JSON line per source.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import yaml

from tests.emulators.google import GoogleEmulator
from tests.emulators.hubspot import TOKEN, HubSpotEmulator
from tests.emulators.server import serve
from tests.emulators.stripe import API_KEY, StripeEmulator
from tests.helpers import soak_files
from tests.helpers.databases import create_orders, mariadb_database, pg_schema
from tests.helpers.google import GoogleData
from tests.helpers.project import REPO, Project
from tests.helpers.soak import DEFAULT_RUNS, Rows, SoakSource, assert_bounded, soak, soak_runs

pytestmark = pytest.mark.integration

SOURCES = ["csv", "markdown_kv", "postgres", "mysql", "stripe", "hubspot", "gdrive_csv", "google_sheets"]
DEFAULT_SOURCES = {"csv", "postgres", "stripe"}
FAST = {"max_requests_per_second": 0, "backoff_base_seconds": 0.005, "max_backoff_seconds": 0.02}
ORDER_COLUMNS = ("customer_id", "status", "amount", "currency", "created_at", "updated_at")
CUSTOMER_COLUMNS = ("country", "is_active", "lifetime_value", "created_at", "updated_at")


def _repo_job(project: Project, name: str, source: dict[str, Any]) -> Any:
    job = yaml.safe_load((REPO / "jobs" / "acme" / f"{name}.yaml").read_text())
    job["source"].update(source)
    return project.write_job(f"soak_{name}", job)


def _secrets(project: Project, **values: str) -> str:
    lines = [f"{k}={v}" for k, v in {**values, "DATIVO_HASH_SALT": "soak-salt"}.items()]
    project.write("secrets/acme/api.env", "\n".join(lines) + "\n")
    return str(project.root / "secrets")


def _postgres(project: Project, stack: ExitStack, pg_service: Any) -> SoakSource:
    """Orders: two inserts and one update (updated_at = now()) per run. Hard deletes are not
    reported by key-based incremental replication (docs/DATABASES.md), so none are made."""
    schema, cursor = stack.enter_context(pg_schema(pg_service.dsn))
    create_orders(cursor, f'"{schema}".orders')
    rng, next_id = random.Random(21), [1]

    def insert(count: int) -> None:
        for _ in range(count):
            cursor.execute(f'INSERT INTO "{schema}".orders VALUES (%s, %s, %s, %s, %s, %s, now(), now())',
                           (next_id[0], rng.randrange(100), "new", f"{rng.randrange(10**6)}.{next_id[0] % 100:02d}",
                            "USD", f"c{next_id[0]}@example.com"))
            next_id[0] += 1

    insert(4)

    def mutate(run: int) -> None:
        insert(2)
        cursor.execute(f'UPDATE "{schema}".orders SET status = %s, amount = amount + 1, updated_at = now() '
                       "WHERE order_id = %s", (f"s{run}", rng.randrange(1, next_id[0])))

    def expected() -> Rows:
        cursor.execute(f'SELECT order_id, {", ".join(ORDER_COLUMNS)} FROM "{schema}".orders')
        return {row[0]: row[1:] for row in cursor.fetchall()}

    env = {"PG_HOST": pg_service.host, "PG_PORT": str(pg_service.port), "PG_USER": pg_service.user,
           "PG_DATABASE": pg_service.db, "PG_PASSWORD": "unused"}
    job = _repo_job(project, "postgres_orders_to_iceberg", {"objects": [f"{schema}.orders"]})
    return SoakSource("postgres", job, "acme.db_orders", "order_id", ORDER_COLUMNS, mutate, expected, env=env)


def _mysql(project: Project, stack: ExitStack, mariadb_service: Any) -> SoakSource:
    """Customers on MariaDB: two inserts and one update per run (no deletes, as for PostgreSQL)."""
    database, cursor = stack.enter_context(mariadb_database(mariadb_service))
    cursor.execute("CREATE TABLE customers (customer_id int PRIMARY KEY, email varchar(200), "
                   "full_name varchar(200), country char(2), is_active tinyint(1), lifetime_value decimal(14,2), "
                   "created_at datetime(6) NOT NULL, updated_at timestamp(6) NOT NULL DEFAULT current_timestamp(6))")
    rng, next_id = random.Random(22), [1]

    def insert(count: int) -> None:
        for _ in range(count):
            cursor.execute("INSERT INTO customers VALUES (%s, %s, %s, %s, %s, %s, now(6), now(6))",
                           (next_id[0], f"c{next_id[0]}@x.io", f"Name {next_id[0]}", rng.choice(["PT", "DE"]),
                            rng.randrange(2), f"{rng.randrange(10**6)}.25"))
            next_id[0] += 1

    insert(4)

    def mutate(run: int) -> None:
        insert(2)
        cursor.execute("UPDATE customers SET country = %s, is_active = 1 - is_active, updated_at = now(6) "
                       "WHERE customer_id = %s", (f"R{run % 10}", rng.randrange(1, next_id[0])))

    def expected() -> Rows:
        cursor.execute("SELECT customer_id, country, is_active <> 0, lifetime_value, created_at, "
                       "CONVERT_TZ(updated_at, @@session.time_zone, '+00:00') FROM customers")
        return {row[0]: (row[1], bool(row[2]), *row[3:]) for row in cursor.fetchall()}

    env = {"MYSQL_HOST": mariadb_service.host, "MYSQL_PORT": str(mariadb_service.port),
           "MYSQL_USER": mariadb_service.user, "MYSQL_DATABASE": database, "MYSQL_PASSWORD": ""}
    job = _repo_job(project, "mysql_customers_to_iceberg", {"objects": ["customers"]})
    return SoakSource("mysql", job, "acme.db_customers", "customer_id", CUSTOMER_COLUMNS, mutate, expected, env=env)


def _stripe(project: Project, stack: ExitStack) -> SoakSource:
    """Customers: one created and one updated (a `customer.updated` event) per run. The tap does
    not apply `customer.deleted` events (docs/SAAS_SOURCES.md), so none are made."""
    stripe = stack.enter_context(serve(StripeEmulator({"customers": 6})))
    rng = random.Random(23)

    def mutate(run: int) -> None:
        stripe.create("customers", description=f"new in run {run}")
        target = rng.choice(stripe.objects["customers"])["id"]
        stripe.update("customers", target, {"balance": -run * 100, "description": f"updated in run {run}"})

    def expected() -> Rows:
        return {c["id"]: (c["balance"], c["description"], c["currency"], c["delinquent"],
                          dt.datetime.fromtimestamp(c["created"], tz=dt.timezone.utc))
                for c in stripe.objects["customers"]}

    job = _repo_job(project, "stripe_customers_to_iceberg", {"api_url": stripe.url, **FAST})
    return SoakSource("stripe", job, "acme.stripe_customers", "id",
                      ("balance", "description", "currency", "delinquent", "created"), mutate, expected,
                      secrets_dir=_secrets(project, STRIPE_API_KEY=API_KEY))


def _hubspot(project: Project, stack: ExitStack) -> SoakSource:
    """Contacts: one created and two updated per run. Archived contacts are not read by the tap
    (docs/SAAS_SOURCES.md), so none are archived."""
    hubspot = stack.enter_context(serve(HubSpotEmulator({"contacts": 6, "companies": 0, "deals": 0})))
    rng = random.Random(24)

    def mutate(run: int) -> None:
        hubspot.create("contacts")
        for record in rng.sample(hubspot.records["contacts"], 2):
            hubspot.update("contacts", record["id"], {"lifecyclestage": f"stage{run}", "annualrevenue": str(run)})

    def expected() -> Rows:
        return {r["id"]: (r["properties"]["lifecyclestage"], float(r["properties"]["annualrevenue"]),
                          r["properties"]["hs_email_optout"] == "true", r["properties"]["date_of_birth"])
                for r in hubspot.records["contacts"]}

    job = _repo_job(project, "hubspot_contacts_to_iceberg", {"api_url": hubspot.url, **FAST})
    return SoakSource("hubspot", job, "acme.hubspot_contacts", "id",
                      ("lifecyclestage", "annualrevenue", "hs_email_optout", "date_of_birth"), mutate, expected,
                      secrets_dir=_secrets(project, HUBSPOT_ACCESS_TOKEN=TOKEN))


@pytest.fixture
def soak_source(request: pytest.FixtureRequest, project: Project) -> Iterator[SoakSource]:
    name = request.param
    with ExitStack() as stack:
        if name == "csv":
            yield soak_files.csv_source(project)
        elif name == "markdown_kv":
            yield soak_files.markdown_kv_source(project)
        elif name == "postgres":
            yield _postgres(project, stack, request.getfixturevalue("pg_service"))
        elif name == "mysql":
            yield _mysql(project, stack, request.getfixturevalue("mariadb_service"))
        elif name == "stripe":
            yield _stripe(project, stack)
        elif name == "hubspot":
            yield _hubspot(project, stack)
        else:
            emulator = stack.enter_context(serve(GoogleEmulator()))
            google = GoogleData(emulator, emulator.service_account_key())  # type: ignore[arg-type]
            make = soak_files.gdrive_source if name == "gdrive_csv" else soak_files.sheets_source
            yield make(project, google)


@pytest.mark.parametrize("soak_source", SOURCES, indirect=True)
def test_soak_table_equals_source_after_every_run(soak_source: SoakSource, project: Project) -> None:
    runs = soak_runs()
    if runs is None:
        if soak_source.name not in DEFAULT_SOURCES:
            pytest.skip("soaked by `make test-soak` (DATIVO_SOAK_RUNS)")
        runs = DEFAULT_RUNS

    report = soak(project, soak_source, runs)

    assert report.runs == runs and report.rows[-1] == len(soak_source.expected())
    assert_bounded(report)
