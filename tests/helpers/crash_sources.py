"""The sources of the crash trials, each a context manager yielding a :class:`Source`: the job's
source side, and how the source grows before each trial (new rows with a larger replication key,
new objects in an emulator, new files) and what it holds. Everything is private to the test: a
fresh PostgreSQL schema or MariaDB database, an emulator on port 0, the project's own folders."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from target_iceberg.catalog import open_catalog

from tests.emulators.google import GoogleEmulator
from tests.emulators.hubspot import TOKEN, HubSpotEmulator
from tests.emulators.server import serve
from tests.emulators.stripe import API_KEY, StripeEmulator
from tests.helpers.databases import create_orders, mariadb_database, pg_schema
from tests.helpers.google import DEALS_HEADER, FOLDER
from tests.helpers.project import Project

FAST = {"max_requests_per_second": 0, "backoff_base_seconds": 0.005, "max_backoff_seconds": 0.02}
SOURCES = ("csv", "postgres-fast", "postgres-record", "mysql-fast", "mysql-record", "stripe", "hubspot",
           "gdrive", "markdown-kv", "postgres-partitions")
# Trials of one target only: an edited file's reload, two concurrent writers of one job, changes
# read from PostgreSQL's log and MySQL's binlog (the object target keeps a change log, not rows
# once: docs/CDC.md).
ICEBERG_ONLY = ("csv-edit", "csv-two-writers", "postgres-log", "mysql-log")
EDITED_ROWS = 16_000
PARTITIONS = int(os.environ.get("DATIVO_CRASH_PARTITIONS") or 3)  # slices of postgres-partitions
START = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


@dataclass
class Source:
    """The source side of a crash-trial job."""

    job: dict[str, Any]  # the job without its target
    tap: str
    key: str  # the primary key column
    cursor: str | None  # the column an incremental read re-reads at the bookmark (None: no re-read)
    grow: Callable[[int], None]
    expected: Callable[[], set[Any]]
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    batch_rows: int = 2000
    max_delay: float = 1.5
    writers: int = 1  # concurrent runs per trial, each with its own state folder
    partitions: list[str] = field(default_factory=list)  # concurrent runs per trial, one per partition
    reader: bool = False  # a reader polls the target during each trial
    final_check: Callable[[], None] | None = None


def _job(connector: str, asset: str, asset_path: str, source: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenant_id": "acme",
        "environment": "test",
        "source_connector": connector,
        "source_connector_path": f"connectors/sources/{connector}.yaml",
        "asset": asset,
        "asset_path": asset_path,
        "source": source,
    }


def _secrets(project: Project, name: str, text: str) -> list[str]:
    project.write(f"secrets/acme/{name}", text)
    return ["--secrets-dir", str(project.root / "secrets")]


def write_big_csv(project: Project, name: str, start: int, count: int) -> None:
    """A deals CSV file of ``count`` rows, ids from ``start`` on."""
    project.write_deals(name, [
        f"{i},Deal {i},Company {i % 97},proposal,{i % 1000}.25,USD,0.5,false,o{i % 13}@example.com,"
        "2024-01-01T00:00:00Z," for i in range(start, start + count)])


def _csv_job(project: Project) -> dict[str, Any]:
    job = project.deals_job()
    job.pop("target_connector"), job.pop("target_connector_path"), job.pop("target")
    return job


@contextmanager
def csv_source(project: Project, request: Any, writers: int = 1) -> Iterator[Source]:
    """A new 8,000-row deals CSV file per trial (read by ``writers`` concurrent runs)."""
    written = [0]

    def grow(trial: int) -> None:
        write_big_csv(project, f"part-{trial:03d}.csv", written[0] + 1, 8000)
        written[0] += 8000

    yield Source(_csv_job(project), "tap-csv", "deal_id", None, grow, lambda: set(range(1, written[0] + 1)),
                 max_delay=2.2, writers=writers, reader=writers > 1)


def _edited_deals(project: Project, version: int) -> None:
    project.write_deals("edited.csv", [
        f"{i},Deal {i} v{version},Company {i % 97},proposal,{i % 1000}.25,USD,0.5,false,o{i % 13}@example.com,"
        "2024-01-01T00:00:00Z," for i in range(1, EDITED_ROWS + 1)])


@contextmanager
def csv_edit_source(project: Project, request: Any) -> Iterator[Source]:
    """One 16,000-row deals CSV file, loaded whole before the first trial, then edited before
    every trial (each row's name gets the trial's version): every run reloads it, and is stopped
    while it does. Job: ``jobs/acme/crash.yaml`` (as the crash trials write it)."""
    version = [0]

    def grow(trial: int) -> None:
        if trial == 0:
            _edited_deals(project, 0)
            loaded = project.dativo("run", "--config", str(project.root / "jobs/acme/crash.yaml"))
            assert loaded.returncode == 0, loaded.stderr[-3000:]
        version[0] = trial + 1
        _edited_deals(project, version[0])
        stamp = (START + dt.timedelta(minutes=trial + 1)).timestamp()
        os.utime(project.root / "data/deals/edited.csv", (stamp, stamp))

    def final_check() -> None:
        table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.csv_deals")
        names = set(table.scan(selected_fields=("deal_name",)).to_arrow().column("deal_name").to_pylist())
        stale = {name for name in names if not name.endswith(f" v{version[0]}")}
        assert not stale, f"rows of an earlier version of the edited file: {sorted(stale)[:5]}"

    yield Source(_csv_job(project), "tap-csv", "deal_id", None, grow, lambda: set(range(1, EDITED_ROWS + 1)),
                 max_delay=2.0, reader=True, final_check=final_check)


def _database(connector: str, asset: str, table: str, key: str, service: Any, database: str, cursor: Any,
              fast: bool, grow: Callable[[int], None]) -> Source:
    """A database source over ``table``, incremental on ``updated_at``, 2,000 rows a batch."""

    def expected() -> set[Any]:
        cursor.execute(f"SELECT {key} FROM {table}" if connector == "mysql" else
                       'SELECT {} FROM "{}"."{}"'.format(key, *table.split(".")))
        return {row[0] for row in cursor.fetchall()}

    source = {
        "objects": [table],
        "connection": {"host": service.host, "port": service.port, "user": service.user,
                       "password": "", "database": database},
        "incremental": {"strategy": "cursor_column", "cursor_field": "updated_at"},
        "fast_path": fast,
        "batch_rows": 2000,
    }
    return Source(_job(connector, asset, f"assets/{connector}/v1.0/{asset}.yaml", source), f"tap-{connector}",
                  key, "updated_at", grow, expected, batch_rows=2000, max_delay=1.2)


@contextmanager
def postgres_source(project: Project, request: Any, fast: bool, partitions: int = 0) -> Iterator[Source]:
    """orders with a strictly increasing ``updated_at``; 6,000 (fast path) or 3,000 new rows a trial.
    With ``partitions``, the job has as many slices (``order_id % N = n``), run side by side."""
    service = request.getfixturevalue("pg_service")
    per_trial = 6000 if fast else 3000
    with pg_schema(service.dsn) as (schema, cursor):
        create_orders(cursor, f'"{schema}".orders')

        def grow(trial: int) -> None:
            low, high = trial * per_trial + 1, (trial + 1) * per_trial
            cursor.execute(
                f'INSERT INTO "{schema}".orders SELECT g, g % 100, \'new\', (g % 1000) / 100.0, \'USD\', '
                f"'o' || g || '@example.com', timestamptz '2024-01-01' + g * interval '1 second', "
                f"timestamptz '2024-01-01' + g * interval '1 second' FROM generate_series({low}, {high}) g"
            )

        source = _database("postgres", "db_orders", f"{schema}.orders", "order_id", service, service.db, cursor,
                           fast, grow)
        if partitions:
            keys = [f"p{n}" for n in range(partitions)]
            source.job["partitions"] = {"static": {k: {"where": f"order_id % {partitions} = {n}"}
                                                   for n, k in enumerate(keys)}}
            source.partitions = keys
        yield source


@contextmanager
def mysql_source(project: Project, request: Any, fast: bool) -> Iterator[Source]:
    """customers with a strictly increasing ``updated_at``; 6,000 (fast path) or 3,000 new rows a trial."""
    service = request.getfixturevalue("mariadb_service")
    per_trial = 6000 if fast else 3000
    with mariadb_database(service) as (database, cursor):
        cursor.execute(
            "CREATE TABLE customers (customer_id int PRIMARY KEY, email varchar(200), full_name varchar(200), "
            "country char(2), is_active tinyint(1), lifetime_value decimal(14,2), "
            "created_at datetime(6) NOT NULL, updated_at timestamp(6) NOT NULL DEFAULT current_timestamp(6))"
        )

        def grow(trial: int) -> None:
            rows = [
                (i, f"c{i}@x.io", f"Name {i}", "PT", i % 2, f"{i % 1000}.50",
                 (START + dt.timedelta(seconds=i)).replace(tzinfo=None),
                 (START + dt.timedelta(seconds=i)).replace(tzinfo=None))
                for i in range(trial * per_trial + 1, (trial + 1) * per_trial + 1)
            ]
            cursor.execute("SET time_zone = '+00:00'")
            cursor.executemany("INSERT INTO customers VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)

        yield _database("mysql", "db_customers", "customers", "customer_id", service, database, cursor, fast, grow)


@contextmanager
def stripe_source(project: Project, request: Any) -> Iterator[Source]:
    """600 new customers a trial, each ``created`` a second after the one before."""
    with serve(StripeEmulator({"customers": 0})) as emulator:
        stripe: StripeEmulator = emulator  # type: ignore[assignment]

        def grow(trial: int) -> None:
            base = int(START.timestamp())
            for n in range(trial * 600, (trial + 1) * 600):
                stripe.create("customers", created=base + n)

        args = _secrets(project, "api.env", f"STRIPE_API_KEY={API_KEY}\n")
        source = {"objects": ["customers"], "api_url": stripe.url, "incremental": {"lookback_days": 0}, **FAST}
        yield Source(_job("stripe", "stripe_customers", "assets/stripe/v1.0/customers.yaml", source),
                     "tap-stripe", "id", "created", grow,
                     lambda: {c["id"] for c in stripe.objects["customers"]}, args=args, batch_rows=500,
                     max_delay=1.0)


@contextmanager
def hubspot_source(project: Project, request: Any) -> Iterator[Source]:
    """300 new contacts a trial, each modified a second after the one before."""
    with serve(HubSpotEmulator({"contacts": 0, "companies": 0, "deals": 0})) as emulator:
        hubspot: HubSpotEmulator = emulator  # type: ignore[assignment]
        rng = random.Random(7)

        def grow(trial: int) -> None:
            with hubspot.lock:
                for index in range(trial * 300, (trial + 1) * 300):
                    hubspot.records["contacts"].append(hubspot._make("contacts", index, rng))
                hubspot.version += 1

        args = _secrets(project, "api.env", f"HUBSPOT_ACCESS_TOKEN={TOKEN}\n")
        source = {"objects": ["contacts"], "api_url": hubspot.url,
                  "incremental": {"cursor_field": "lastmodifieddate"}, **FAST}
        yield Source(_job("hubspot", "hubspot_contacts", "assets/hubspot/v1.0/contacts.yaml", source),
                     "tap-hubspot", "id", "lastmodifieddate", grow,
                     lambda: {r["id"] for r in hubspot.records["contacts"]}, args=args, batch_rows=200,
                     max_delay=1.0)


@contextmanager
def gdrive_source(project: Project, request: Any) -> Iterator[Source]:
    """A new 2,000-row deals CSV file in the Drive folder per trial, modified a minute later."""
    with serve(GoogleEmulator()) as emulator:
        google: GoogleEmulator = emulator  # type: ignore[assignment]
        key = google.service_account_key()
        written = [0]

        def grow(trial: int) -> None:
            start = written[0] + 1
            lines = [f"{i},Deal {i},open,{i % 1000}.50,USD,false,o{i % 13}@example.com,2026-01-02,"
                     "2026-01-01T09:00:00Z" for i in range(start, start + 2000)]
            google.add_file(f"deals_{trial:03d}.csv", "\n".join([DEALS_HEADER, *lines]) + "\n",
                            parents=[FOLDER], modified=START + dt.timedelta(minutes=trial))
            written[0] += 2000

        args = _secrets(project, "google.json", json.dumps({"GOOGLE_SERVICE_ACCOUNT_KEY": key}))
        source = {"objects": ["deals_daily"], "api_url": google.url,
                  "files": [{"folder_id": FOLDER, "name_pattern": "deals_*"}], **FAST}
        yield Source(_job("gdrive_csv", "gdrive_deals_daily", "assets/gdrive_csv/v1.0/deals_daily.yaml", source),
                     "tap-gdrive-csv", "deal_id", None, grow,
                     lambda: set(range(1, written[0] + 1)), args=args, batch_rows=700, max_delay=1.2)


@contextmanager
def markdown_kv_source(project: Project, request: Any) -> Iterator[Source]:
    """A new Markdown-KV file of 1,500 employee records per trial."""
    written = [0]

    def grow(trial: int) -> None:
        start = written[0] + 1
        blocks = [
            f"## Person {i}\n\n```\nid: {i}\nname: Person {i}\ndepartment: Engineering\n"
            f"email: p{i}@example.com\nsalary: {i % 1000}.50\nstart date: 2021-03-15\nremote: true\n"
            f"profile: https://people.example.com/{i}\n```\n"
            for i in range(start, start + 1500)
        ]
        project.write(f"data/markdown_kv/employees/part-{trial:03d}.md", "# Employees\n\n" + "\n".join(blocks))
        written[0] += 1500

    source = {"objects": ["employees"], "storage": "document", "files": [{"path": "data/markdown_kv/employees"}]}
    yield Source(_job("markdown_kv", "markdown_kv_employees", "assets/markdown_kv/v1.0/employees.yaml", source),
                 "tap-markdown-kv", "id", None, grow, lambda: set(range(1, written[0] + 1)), batch_rows=1000)


def open_source(name: str, project: Project, request: Any) -> Any:
    """The context manager of the named source."""
    if name == "csv":
        return csv_source(project, request)
    if name == "csv-edit":
        return csv_edit_source(project, request)
    if name == "csv-two-writers":
        return csv_source(project, request, writers=2)
    if name == "postgres-log":
        from tests.helpers.crash_log_source import postgres_log_source

        return postgres_log_source(project, request)
    if name == "postgres-partitions":
        return postgres_source(project, request, fast=True, partitions=PARTITIONS)
    if name.startswith("postgres"):
        return postgres_source(project, request, fast=name.endswith("fast"))
    if name == "mysql-log":
        from tests.helpers.crash_log_source import mysql_log_source

        return mysql_log_source(project, request)
    if name.startswith("mysql"):
        return mysql_source(project, request, fast=name.endswith("fast"))
    return {"stripe": stripe_source, "hubspot": hubspot_source, "gdrive": gdrive_source,
            "markdown-kv": markdown_kv_source}[name](project, request)
