"""`dativo discover` and `dativo generate config` end to end: discovery of real PostgreSQL and
MariaDB tables, CSV and Markdown-KV files, the Stripe and Google emulators (text and --json);
generated files that validate and run into Iceberg as written; refusal to overwrite; a missing
credential as one line, exit 2; secrets never printed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from target_iceberg.catalog import open_catalog

from tests.emulators.google import GoogleEmulator
from tests.emulators.server import serve
from tests.emulators.stripe import API_KEY, StripeEmulator
from tests.helpers.databases import mariadb_database, pg_schema
from tests.helpers.google import GoogleData, populate
from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration

SALT = "discover-test-salt"
PG_PASSWORD = "pg-Discover-Secret-93"
PEOPLE_CSV = (
    "person_id,first_name,email,signup_date,score,active,updated_at,ref_code\n"
    "1,Ann,ann@example.com,2026-01-02,4.5,true,2026-01-02T10:00:00Z,01234\n"
    "2,Bob,bob@example.com,2026-01-03,3,false,2026-01-03T11:30:00Z,99501\n"
    "3,Cy,,2026-01-04,,true,2026-01-04T08:00:00Z,\n"
)


def _secrets(project: Project, **values: str) -> str:
    lines = [f"{k}={v}" for k, v in {**values, "DATIVO_HASH_SALT": SALT}.items()]
    project.write("secrets/acme/test.env", "\n".join(lines) + "\n")
    return str(project.root / "secrets")


def _ok(result: Any) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return str(result.stdout)


def _fields(stream: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["type"] for f in stream["fields"]}


def _lake(project: Project, table: str) -> list[dict[str, Any]]:
    catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
    return list(catalog.load_table(table).scan().to_arrow().to_pylist())


@pytest.fixture
def stripe() -> Iterator[StripeEmulator]:
    with serve(StripeEmulator({"customers": 7})) as emulator:
        yield emulator  # type: ignore[misc]


@pytest.fixture
def google() -> Iterator[GoogleData]:
    with serve(GoogleEmulator()) as emulator:
        yield populate(emulator)  # type: ignore[arg-type]


def test_discover_csv_types_from_sampled_rows_text_and_json(project: Project) -> None:
    project.write("data/people/2026-01.csv", PEOPLE_CSV)

    text = _ok(project.dativo("discover", "--connector", "csv", "--path", "data/people/*.csv"))
    data = json.loads(
        _ok(project.dativo("discover", "--connector", "csv", "--path", "data/people/*.csv", "--json"))
    )

    assert (
        "people  (key: person_id; cursor candidates: signup_date, updated_at; types from 3 sampled rows)"
        in text
    )
    assert "  email        string" in text
    (stream,) = data["streams"]
    assert (
        data["source"] == "csv" and stream["stream"] == "people" and stream["key_properties"] == ["person_id"]
    )
    assert _fields(stream) == {
        "person_id": "integer",
        "first_name": "string",
        "email": "string",
        "signup_date": "date",
        "score": "double",
        "active": "boolean",
        "updated_at": "timestamp",
        "ref_code": "string",
    }


def test_discover_markdown_kv_job_and_missing_path(project: Project) -> None:
    shutil.copytree(REPO / "data" / "markdown_kv", project.root / "data" / "markdown_kv")
    job = project.write_job(
        "md", yaml.safe_load((REPO / "jobs/acme/markdown_kv_employees_to_iceberg.yaml").read_text())
    )

    data = json.loads(_ok(project.dativo("discover", "--config", str(job), "--json")))
    bad = project.dativo("discover", "--connector", "markdown_kv")

    (stream,) = data["streams"]
    assert data["source"] == "markdown_kv" and len(stream["fields"]) >= 2
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "source.files" in bad.stderr


def test_discover_postgres_and_mariadb_tables(
    project: Project, pg_service: Any, mariadb_service: Any
) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(
            f'CREATE TABLE "{schema}".orders (order_id bigint PRIMARY KEY, email text, '
            "amount numeric(12,2), paid boolean NOT NULL, created_at timestamptz, updated_at timestamp)"
        )
        cursor.execute(f'CREATE TABLE "{schema}".other (x int)')
        pg = json.loads(
            _ok(
                project.dativo(
                    "discover",
                    "--connector",
                    "postgres",
                    "--host",
                    pg_service.host,
                    "--port",
                    str(pg_service.port),
                    "--user",
                    pg_service.user,
                    "--database",
                    pg_service.db,
                    "--object",
                    f"{schema}.orders",
                    "--json",
                )
            )
        )
        every = _ok(
            project.dativo(
                "discover",
                "--connector",
                "postgres",
                "--host",
                pg_service.host,
                "--port",
                str(pg_service.port),
                "--user",
                pg_service.user,
                "--database",
                pg_service.db,
                "--object",
                f"{schema}.*",
            )
        )
    with mariadb_database(mariadb_service) as (database, my):
        my.execute(
            "CREATE TABLE customers (customer_id INT PRIMARY KEY, full_name VARCHAR(80), "
            "lifetime_value DECIMAL(10,2), modified_at DATETIME NOT NULL)"
        )
        text = _ok(
            project.dativo(
                "discover",
                "--connector",
                "mysql",
                "--host",
                mariadb_service.host,
                "--port",
                str(mariadb_service.port),
                "--user",
                mariadb_service.user,
                "--database",
                database,
            )
        )

    (orders,) = pg["streams"]
    assert orders["stream"] == f"{schema}.orders" and orders["key_properties"] == ["order_id"]
    assert _fields(orders) == {
        "order_id": "integer",
        "email": "string",
        "amount": "decimal(12,2)",
        "paid": "boolean",
        "created_at": "timestamp",
        "updated_at": "timestamp",
    }
    assert {"created_at", "updated_at"} <= set(orders["replication_key_candidates"])
    assert "postgres: 2 streams" in every and f"{schema}.other" in every
    assert f"{database}.customers  (key: customer_id;" in text
    assert "  modified_at     timestamp\n" in text and "  lifetime_value  decimal(10,2)\n" in text


def test_discover_stripe_emulator_and_missing_key(project: Project, stripe: StripeEmulator) -> None:
    secrets = _secrets(project, STRIPE_API_KEY=API_KEY)
    common = ("--connector", "stripe", "--tenant", "acme", "--api-url", stripe.url)

    data = json.loads(_ok(project.dativo("discover", *common, "--secrets-dir", secrets, "--json")))
    text = _ok(project.dativo("discover", *common, "--secrets-dir", secrets, "--object", "customers"))
    missing = project.dativo("discover", *common)

    streams = {s["stream"]: s for s in data["streams"]}
    assert {"customers", "charges", "invoices"} <= set(streams)
    assert streams["customers"]["replication_key"] == "created"
    assert _fields(streams["customers"])["created"] == "timestamp"
    assert text.startswith("stripe: 1 stream") and "replication key: created" in text
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.strip().splitlines() == [
        "dativo: error: --connector stripe: source.secret: the stripe API key STRIPE_API_KEY is not set "
        "(tenant secrets <secrets-dir>/acme/*.env or environment)"
    ]
    assert API_KEY not in data.__repr__() + text + missing.stderr


def test_discover_google_sheets_emulator_never_prints_the_key(project: Project, google: GoogleData) -> None:
    project.write("secrets/acme/google.json", json.dumps({"GOOGLE_SERVICE_ACCOUNT_KEY": google.key}))
    result = project.dativo(
        "discover",
        "--connector",
        "google_sheets",
        "--tenant",
        "acme",
        "--secrets-dir",
        "secrets",
        "--api-url",
        google.emulator.url,
        "--spreadsheet-id",
        google.spreadsheet,
        "--range",
        "Vendors",
        "--object",
        "vendors",
        "--set",
        "max_requests_per_second=0",
    )

    text = _ok(result)
    assert text.startswith("google_sheets: 1 stream") and "\nvendors  (" in text
    for column in ("vendor_id", "vendor_name", "payment_terms_days", "onboarded_on"):
        assert f"  {column} " in text
    key_lines = [line for line in google.key["private_key"].splitlines() if not line.startswith("-----")]
    assert not [line for line in key_lines if line in result.stdout + result.stderr]


def test_generate_postgres_config_validates_runs_and_refuses_overwrite(
    project: Project, pg_service: Any
) -> None:
    secrets = _secrets(project, PG_PASSWORD=PG_PASSWORD)
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(
            f'CREATE TABLE "{schema}".orders (order_id bigint PRIMARY KEY, customer_email text, '
            "amount numeric(12,2), status text, updated_at timestamptz NOT NULL)"
        )
        cursor.execute(
            f"INSERT INTO \"{schema}\".orders VALUES (1, 'ann@example.com', 12.50, 'paid', '2026-01-01T10:00Z'), "
            "(2, 'bob@example.com', 99.99, 'open', '2026-01-02T10:00Z')"
        )
        args = (
            "generate",
            "config",
            "--source",
            "postgres",
            "--object",
            f"{schema}.orders",
            "--tenant",
            "acme",
            "--host",
            pg_service.host,
            "--port",
            str(pg_service.port),
            "--user",
            pg_service.user,
            "--database",
            pg_service.db,
            "--secrets-dir",
            secrets,
        )
        out = _ok(project.dativo(*args))
        job_file = project.root / "jobs/acme/postgres_orders_to_iceberg.yaml"
        asset_file = project.root / "assets/postgres/v1.0/orders.yaml"
        written = (job_file.read_text(), asset_file.read_text())
        validated = project.dativo("validate", "--config", str(job_file), "--secrets-dir", secrets)
        code, _, stderr = project.run_json("--config", str(job_file), "--secrets-dir", secrets)
        again = project.dativo(*args)

    assert (
        "wrote assets/postgres/v1.0/orders.yaml: 5 fields, key order_id, PII guessed: customer_email" in out
    )
    assert "dativo run --config jobs/acme/postgres_orders_to_iceberg.yaml --secrets-dir" in out
    asset = yaml.safe_load(written[1])["asset"]
    assert asset["name"] == "postgres_orders" and asset["primary_key"] == ["order_id"]
    assert {f["name"]: f["type"] for f in asset["schema"]}["amount"] == "decimal(12,2)"
    assert asset["governance"]["classification"] == ["PII"]
    job = yaml.safe_load(written[0])
    assert job["source"]["incremental"] == {"strategy": "cursor_column", "cursor_field": "updated_at"}
    assert job["source"]["connection"]["password"] == "${PG_PASSWORD:-}" and PG_PASSWORD not in written[0]
    assert validated.returncode == 0, validated.stderr
    assert code == 0, stderr
    rows = {r["order_id"]: r for r in _lake(project, "acme.postgres_orders")}
    assert set(rows) == {1, 2} and str(rows[1]["amount"]) == "12.50" and rows[2]["status"] == "open"
    assert rows[1]["customer_email"] != "ann@example.com"  # hashed by the policy (PII)
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.strip().splitlines() == [
        "dativo: error: jobs/acme/postgres_orders_to_iceberg.yaml and assets/postgres/v1.0/orders.yaml: "
        "exist; pass --force to overwrite"
    ]
    assert (job_file.read_text(), asset_file.read_text()) == written


def test_generate_stripe_and_csv_configs_run_as_written(project: Project, stripe: StripeEmulator) -> None:
    secrets = _secrets(project, STRIPE_API_KEY=API_KEY)
    project.write("data/people/2026-01.csv", PEOPLE_CSV)

    out = json.loads(
        _ok(
            project.dativo(
                "generate",
                "config",
                "--source",
                "stripe",
                "--object",
                "customers",
                "--tenant",
                "acme",
                "--api-url",
                stripe.url,
                "--secrets-dir",
                secrets,
                "--set",
                "max_requests_per_second=0",
                "--force",
                "--json",
            )
        )
    )  # --force: the repo's assets/stripe/v1.0/customers.yaml is replaced
    csv_out = _ok(
        project.dativo(
            "generate",
            "config",
            "--source",
            "csv",
            "--path",
            "data/people/*.csv",
            "--tenant",
            "acme",
            "--target",
            "iceberg",
        )
    )
    validated = project.dativo("validate", "--config", "jobs/acme/csv_people_to_iceberg.yaml")
    code, _, stderr = project.run_json("--job-dir", "jobs/acme", "--secrets-dir", secrets)

    assert out["job"] == "jobs/acme/stripe_customers_to_iceberg.yaml" and out["incremental"] == {
        "cursor_field": "created"
    }
    assert out["asset"] == "assets/stripe/v1.0/customers.yaml" and {"email", "name"} <= set(out["pii"])
    assert (
        "wrote assets/csv/v1.0/people.yaml: 8 fields, key person_id, PII guessed: first_name, email\n"
        in csv_out
    )
    # The generated owner is a placeholder: valid (exit 0), but named as one.
    assert validated.returncode == 0, validated.stderr
    assert validated.stderr.splitlines() == [
        "dativo: warning: assets/csv/v1.0/people.yaml: governance.owner: TODO-owner@example.com is "
        "the placeholder `dativo generate config` writes; set the dataset's owner"
    ]
    assert code == 0, stderr
    customers = {r["id"]: r for r in _lake(project, "acme.stripe_customers")}
    assert set(customers) == {c["id"] for c in stripe.objects["customers"]}
    people = {r["person_id"]: r for r in _lake(project, "acme.csv_people")}
    assert set(people) == {1, 2, 3} and people[1]["score"] == 4.5 and people[2]["active"] is False
    assert people[1]["ref_code"] == "01234" and people[3]["email"] is None
    assert people[1]["email"] != "ann@example.com"  # guessed PII: hashed by the policy
