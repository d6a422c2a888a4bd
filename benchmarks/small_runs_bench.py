#!/usr/bin/env python3
"""Small runs: each goal of a small run with its figure, ours beside the reference, in one run.

The reference is the same `dativo run` with ``--always-start`` (tap and target started: the plain
pipe). Cases: a CSV job and the Markdown-KV employees job with nothing new; the PostgreSQL demo
job (orders, cursor ``updated_at``, ``lookback_days: 1``) with nothing new and with 1,000 new rows;
a CSV job with one new 1,000-row file; and ``--job-dir`` over the demo jobs that need only the
local services (CSV, Markdown-KV, PostgreSQL, MariaDB, SeaweedFS S3) and the Stripe, HubSpot and
Google jobs against the tests' loopback emulators (served in this process, as the tests serve
them), each run once before so nothing is new. CPU seconds are user + sys of every process (the
emulators' own CPU is not counted); median of ``--repeat`` rounds.

    export DATIVO_SERVICES_DIR=...   # the services of scripts/services.sh, as the tests use them
    .venv/bin/python benchmarks/small_runs_bench.py              # median of 3
    .venv/bin/python benchmarks/small_runs_bench.py --repeat 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO)]

import csv_bench  # noqa: E402
from startup_bench import BIN, cpu_of  # noqa: E402

from tests import services  # noqa: E402
from tests.emulators.google import GoogleEmulator  # noqa: E402
from tests.emulators.hubspot import TOKEN as HUBSPOT_TOKEN  # noqa: E402
from tests.emulators.hubspot import HubSpotEmulator  # noqa: E402
from tests.emulators.server import serve  # noqa: E402
from tests.emulators.stripe import API_KEY as STRIPE_KEY  # noqa: E402
from tests.emulators.stripe import StripeEmulator  # noqa: E402
from tests.helpers import objects  # noqa: E402
from tests.helpers.databases import mariadb_database, pg_schema  # noqa: E402
from tests.helpers.google import FOLDER, populate  # noqa: E402
from tests.helpers.project import Project  # noqa: E402

S3_JOBS = (
    "csv_deals_to_markdown_kv",
    "csv_deals_to_s3",
    "gsheets_vendors_to_minio",
    "markdown_kv_files_to_s3",
    "mysql_customers_to_s3",
)
# The API clients' pacing and back-off as the tests set them against the emulators.
FAST = {"max_requests_per_second": 0, "backoff_base_seconds": 0.005, "max_backoff_seconds": 0.02}
ORDERS = """CREATE TABLE {table} (order_id bigint PRIMARY KEY, customer_id bigint NOT NULL,
    status text, amount numeric(12, 2), currency char(3), customer_email text,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)"""
ADD_ORDERS = """INSERT INTO {table}
SELECT n, 1 + n % 97, (ARRAY['new', 'paid', 'shipped', 'refunded'])[1 + n % 4],
       round((n * 7.31)::numeric % 1000, 2), (ARRAY['EUR', 'USD', 'GBP'])[1 + n % 3],
       'customer' || (1 + n % 97) || '@example.com',
       timestamptz '2026-01-01 00:00:00+00' + n * interval '1 hour',
       timestamptz '2026-01-01 00:00:00+00' + n * interval '1 hour'
FROM generate_series({first}, {last}) AS n"""
CUSTOMERS = """CREATE TABLE customers (customer_id int PRIMARY KEY, email varchar(200),
    full_name varchar(200), country char(2), is_active tinyint(1), lifetime_value decimal(14,2),
    created_at datetime(6) NOT NULL, updated_at timestamp(6) NOT NULL DEFAULT current_timestamp(6))"""

# The goal of each case: (the figure compared, its limit in seconds).
GOALS = {
    "csv, nothing new": ("wall", 0.5),
    "csv, nothing new (CPU)": ("cpu", 0.5),
    "markdown-kv, nothing new": ("wall", 0.5),
    "postgres, nothing new": ("wall", 0.8),
    "csv, 1,000 new rows": ("wall", 1.5),
    "postgres, 1,000 new rows": ("wall", 1.5),
    "--job-dir, nothing new": ("wall", 10.0),
}


def demo_home(root: Path, schema: str, prefix: str, apis: dict[str, dict[str, Any]]) -> Project:
    """The demo jobs, their data, in a fresh home: the database job on ``schema``, the object
    jobs under ``prefix``, each job whose name starts with a key of ``apis`` with those source
    settings (the emulators' URLs and ids)."""
    shutil.rmtree(root, ignore_errors=True)
    project = Project.create(root)
    for folder in ("data/deals", "data/markdown_kv"):
        shutil.copytree(REPO / folder, root / folder, dirs_exist_ok=True)
    for path in sorted((REPO / "jobs/acme").glob("*.yaml")):
        job = yaml.safe_load(path.read_text())
        for start, settings in apis.items():
            if path.name.startswith(start):
                job["source"].update(**FAST, **settings)
        if path.stem == "postgres_orders_to_iceberg":
            job["source"]["objects"] = [f"{schema}.orders"]
        if path.stem in S3_JOBS:
            job["target"]["connection"]["s3"]["prefix"] = f"{prefix}/{path.stem}"
        project.write_job(path.stem, job)
    return project


@contextmanager
def emulated_apis(project_root: Path) -> Iterator[tuple[dict[str, dict[str, Any]], Path]]:
    """The Stripe, HubSpot and Google emulators served on loopback: each API job's source
    settings, and a secrets folder with their key, token and service-account key."""
    with ExitStack() as stack:
        stripe = stack.enter_context(serve(StripeEmulator(counts={"customers": 100})))
        hubspot = stack.enter_context(serve(HubSpotEmulator(counts={"contacts": 100})))
        google = populate(stack.enter_context(serve(GoogleEmulator())))  # type: ignore[arg-type]
        sheets = [{"spreadsheet_id": google.spreadsheet, "range": "Vendors"}]
        apis: dict[str, dict[str, Any]] = {
            "stripe_": {"api_url": stripe.url},
            "hubspot_": {"api_url": hubspot.url},
            "gdrive_": {
                "api_url": google.emulator.url,
                "files": [{"folder_id": FOLDER, "name_pattern": "deals_*"}],
            },
            "gsheets_": {
                "api_url": google.emulator.url,
                "drive_api_url": google.emulator.url,
                "sheets": sheets,
            },
        }
        secrets = project_root / "secrets"
        (secrets / "acme").mkdir(parents=True, exist_ok=True)
        (secrets / "acme/api.env").write_text(
            f"STRIPE_API_KEY={STRIPE_KEY}\nHUBSPOT_ACCESS_TOKEN={HUBSPOT_TOKEN}\n"
        )
        (secrets / "acme/google.json").write_text(json.dumps({"GOOGLE_SERVICE_ACCOUNT_KEY": google.key}))
        yield apis, secrets


def service_env(pg_db: str, mysql_db: str, bucket: str) -> dict[str, str]:
    """The demo jobs' variables pointing at the local services."""
    pg, my, sw = services.postgres(), services.mariadb(), services.seaweedfs()
    env = {k: v for k, v in os.environ.items() if k != "DATIVO_HOME"}
    env.update(
        PG_HOST=pg.host, PG_PORT=str(pg.port), PG_USER=pg.user, PG_DATABASE=pg_db, PG_PASSWORD="",
        MYSQL_HOST=my.host, MYSQL_PORT=str(my.port), MYSQL_USER=my.user, MYSQL_DATABASE=mysql_db,
        MYSQL_PASSWORD="", S3_BUCKET=bucket, S3_ENDPOINT=sw.s3_endpoint,
        S3_ACCESS_KEY_ID=sw.access_key, S3_SECRET_ACCESS_KEY=sw.secret_key,
        MINIO_BUCKET=bucket, MINIO_ENDPOINT=sw.s3_endpoint,
        MINIO_ACCESS_KEY_ID=sw.access_key, MINIO_SECRET_ACCESS_KEY=sw.secret_key,
    )  # fmt: skip
    return env


def run_cases(out: Path, repeat: int) -> dict[str, list[tuple[float, float]]]:
    """Set every case up, land its first run, then measure ``repeat`` rounds."""
    samples: dict[str, list[tuple[float, float]]] = {}

    def measure(name: str, command: list[str], env: dict[str, str] | None = None, rows: int = 0) -> None:
        """One sample; a run with ``rows`` new rows must say it landed at least that many."""
        printed: list[str] = []
        samples.setdefault(name, []).append(cpu_of([*command, "--json"], env, printed))
        landed = sum(s["rows"] for s in json.loads(printed[0]).get("streams", []))
        if landed < rows:
            raise RuntimeError(f"{name}: {landed} rows landed, expected {rows}")

    csv_path = out / "orders-1000.csv"
    if not csv_path.exists():
        csv_bench.write_csv(csv_path, 1000)
    csv_home, csv_job = csv_bench.dativo_home(out / "home-small-csv", csv_path, True, "data/orders*.csv")
    csv_run = [str(BIN / "dativo"), "run", "--config", str(csv_job), "--home", str(csv_home)]
    cpu_of(csv_run)

    pg = services.postgres()
    with ExitStack() as stack:
        schema, pg_cursor = stack.enter_context(pg_schema(pg.dsn))
        mysql_db, my_cursor = stack.enter_context(mariadb_database(services.mariadb()))
        table = f'"{schema}".orders'
        pg_cursor.execute(ORDERS.format(table=table))
        pg_cursor.execute(ADD_ORDERS.format(table=table, first=1, last=1000))
        my_cursor.execute(CUSTOMERS)
        my_cursor.execute(
            "INSERT INTO customers VALUES (1, 'a@x.io', 'Ana', 'PT', 1, 1.50, now(6), now(6)), "
            "(2, NULL, 'Ben', 'DE', 0, 12.34, now(6), now(6))"
        )
        bucket = objects.s3_bucket().name
        home_root = out / "home-small-demo"
        shutil.rmtree(home_root, ignore_errors=True)
        apis, secrets = stack.enter_context(emulated_apis(out / "secrets-small-demo"))
        project = demo_home(home_root, schema, objects.unique_prefix("small-runs"), apis)
        env = service_env(pg.db, mysql_db, bucket)
        home = ["--home", str(project.root), "--secrets-dir", str(secrets)]
        dativo = [str(BIN / "dativo"), "run", *home]
        job_dir = [*dativo, "--job-dir", str(project.root / "jobs/acme")]
        cpu_of(job_dir, env)  # lands every job once
        jobs = project.root / "jobs/acme"
        markdown = [*dativo, "--config", str(jobs / "markdown_kv_employees_to_iceberg.yaml")]
        postgres = [*dativo, "--config", str(jobs / "postgres_orders_to_iceberg.yaml")]
        for round_ in range(repeat):
            for name, command, run_env in (
                ("csv, nothing new", csv_run, None),
                ("markdown-kv, nothing new", markdown, env),
                ("postgres, nothing new", postgres, env),
                ("--job-dir, nothing new", job_dir, env),
            ):
                measure(name, command, run_env)
                measure(f"{name} [--always-start]", [*command, "--always-start"], run_env)
            first = 1001 + 1000 * round_
            csv_bench.write_csv(csv_home / "data" / f"orders-new-{round_}.csv", 1000, first_id=first)
            measure("csv, 1,000 new rows", csv_run, rows=1000)
            pg_cursor.execute(ADD_ORDERS.format(table=table, first=first, last=first + 999))
            measure("postgres, 1,000 new rows", postgres, env, rows=1000)
    return samples


def report(samples: dict[str, list[tuple[float, float]]], load: tuple[float, float]) -> dict[str, Any]:
    """Print ours beside the reference and each goal's verdict; the medians, for --json."""
    medians = {
        name: {"cpu": statistics.median(c for c, _ in found), "wall": statistics.median(w for _, w in found)}
        for name, found in samples.items()
    }
    rounds = len(next(iter(samples.values())))
    print(f"load average {load[0]:.1f} before, {load[1]:.1f} after; median of {rounds}")
    print(f"{'what':28} {'CPU s':>6} {'wall s':>7} | {'--always-start':>14} {'wall s':>7}")
    for name, ours in medians.items():
        if name.endswith("[--always-start]"):
            continue
        ref = medians.get(f"{name} [--always-start]")
        started = f"{ref['cpu']:8.2f} CPU-s {ref['wall']:7.2f}" if ref else f"{'(same run)':>14} {'':>7}"
        print(f"{name:28} {ours['cpu']:6.2f} {ours['wall']:7.2f} | {started}")
    print()
    for goal, (what, limit) in GOALS.items():
        value = medians[goal.removesuffix(" (CPU)")][what]
        verdict = "met" if value <= limit else "MISSED"
        print(f"goal: {goal.removesuffix(' (CPU)')} {what} <= {limit} s: {value:.2f} s, {verdict}")
    return medians


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = BENCH / "out"
    out.mkdir(exist_ok=True)
    before = os.getloadavg()[0]
    samples = run_cases(out, args.repeat)
    medians = report(samples, (before, os.getloadavg()[0]))
    if args.json:
        args.json.write_text(json.dumps(medians, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
