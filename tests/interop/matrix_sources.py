"""The sources of the interop matrix: each of our taps with data to read (fixtures, emulators,
the local databases), and the peer taps our targets are fed from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from tests import services
from tests.emulators.google import GoogleEmulator
from tests.emulators.hubspot import TOKEN, HubSpotEmulator
from tests.emulators.server import serve
from tests.emulators.stripe import API_KEY, StripeEmulator
from tests.helpers.databases import discover, mariadb_database, pg_schema, select
from tests.helpers.google import drive_config, populate, sheets_config
from tests.helpers.saas import FAST_RETRIES
from tests.standard.test_tap_csv_standard import CONFIG as CSV_CONFIG
from tests.standard.test_tap_markdown_kv_standard import CONFIG as MARKDOWN_CONFIG

ROWS = 200
PG_TABLE = (
    "CREATE TABLE {t} (id bigint PRIMARY KEY, name text, amount numeric(12,2), wide numeric(38,10), "
    "ok boolean, at timestamptz, day date, doc jsonb)"
)
MY_TABLE = (
    "CREATE TABLE {t} (id bigint PRIMARY KEY, name text, amount decimal(12,2), wide decimal(38,10), "
    "ok boolean, at datetime(6), day date, doc json)"
)


def _rows() -> list[tuple[Any, ...]]:
    names = ['Zoë, "the" Ångström 🚀', "multi\nline", None, "日本語"]
    return [
        (
            i,
            names[i % 4],
            None if i % 7 == 0 else f"{i}.25",
            f"{i}234567890123456789012345.1234567891",
            None if i % 5 == 0 else i % 2 == 0,
            f"2024-01-{1 + i % 28:02d} 12:34:56.{i:06d}",
            f"2023-12-{1 + i % 28:02d}",
            json.dumps({"n": i, "tags": ["a", i], "price": 1.5}),
        )
        for i in range(1, ROWS + 1)
    ]


def _env(argv: list[str]) -> dict[str, str] | None:
    """A peer runs without our PYTHONPATH (its package names may be ours: tap_postgres)."""
    if argv[0] == sys.executable:
        return None
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def program(module: str) -> list[str]:
    """Our program ``module.main`` run with this interpreter (and its PYTHONPATH)."""
    return [sys.executable, "-c", f"from {module} import main; main()"]


def run_tap(argv: list[str], config: dict[str, Any], folder: Path, catalog: Any = None) -> bytes:
    """The tap's stdout (its Singer messages); fails with the stderr tail."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tap.json").write_text(json.dumps(config))
    args = [*argv, "--config", str(folder / "tap.json")]
    if catalog is not None:
        (folder / "catalog.json").write_text(json.dumps(catalog))
        args += ["--catalog", str(folder / "catalog.json")]
    done = subprocess.run(args, capture_output=True, timeout=600, check=False, env=_env(argv))
    if done.returncode != 0:
        raise RuntimeError(f"{argv[-1]} exited {done.returncode}: {done.stderr.decode()[-1500:]}")
    return done.stdout


@contextmanager
def our_taps(folder: Path) -> Iterator[dict[str, bytes]]:
    """Program name → the messages it sent reading its sample source."""
    out: dict[str, bytes] = {}
    with ExitStack() as stack:
        out["tap-csv"] = run_tap(program("tap_csv.tap"), CSV_CONFIG, folder / "csv")
        out["tap-markdown-kv"] = run_tap(program("tap_markdown_kv.tap"), MARKDOWN_CONFIG, folder / "md")
        stripe = stack.enter_context(serve(StripeEmulator({"customers": 30, "invoices": 20, "charges": 20})))
        config = {"api_key": API_KEY, "api_url": stripe.url, **FAST_RETRIES, "request_timeout_seconds": 5}
        out["tap-stripe"] = run_tap(program("tap_stripe.tap"), config, folder / "stripe")
        hubspot = stack.enter_context(serve(HubSpotEmulator({"contacts": 30, "companies": 8, "deals": 10})))
        config = {"access_token": TOKEN, "api_url": hubspot.url, **FAST_RETRIES, "request_timeout_seconds": 5}
        out["tap-hubspot"] = run_tap(program("tap_hubspot.tap"), config, folder / "hubspot")
        google = populate(stack.enter_context(serve(GoogleEmulator())))
        out["tap-gdrive-csv"] = run_tap(
            program("tap_gdrive_csv.tap"), drive_config(google), folder / "gdrive"
        )
        out["tap-google-sheets"] = run_tap(
            program("tap_google_sheets.tap"), sheets_config(google), folder / "sheets"
        )
        out.update(_database_taps(folder, program("tap_postgres.tap"), program("tap_mysql.tap")))
        yield out


def _database_taps(folder: Path, pg_tap: list[str], my_tap: list[str]) -> dict[str, bytes]:
    services.ensure_up("postgres")
    services.ensure_up("mariadb")
    pg, my = services.postgres(), services.mariadb()
    out: dict[str, bytes] = {}
    with pg_schema(pg.dsn) as (schema, cursor):
        cursor.execute(PG_TABLE.format(t=f'"{schema}".items'))
        cursor.executemany(f'INSERT INTO "{schema}".items VALUES (%s,%s,%s,%s,%s,%s,%s,%s)', _rows())
        config = {
            "host": pg.host,
            "port": pg.port,
            "user": pg.user,
            "database": pg.db,
            "filter_schemas": [schema],
        }
        catalog = select(discover("postgres", config, folder), f"{schema}-items")
        out["tap-postgres"] = run_tap(pg_tap, config, folder / "pg", catalog)
    with mariadb_database(my) as (database, cursor):
        cursor.execute(MY_TABLE.format(t="items"))
        cursor.executemany("INSERT INTO items VALUES (%s,%s,%s,%s,%s,%s,%s,%s)", _rows())
        config = {
            "host": my.host,
            "port": my.port,
            "user": my.user,
            "database": database,
            "filter_schemas": [database],
        }
        catalog = select(discover("mysql", config, folder), f"{database}-items")
        out["tap-mysql"] = run_tap(my_tap, config, folder / "my", catalog)
    return out


def peer_pg_catalog(tap: list[str], config: dict[str, Any], folder: Path) -> dict[str, Any]:
    """MeltanoLabs tap-postgres' ``--discover`` catalog with every stream and column selected."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "d.json").write_text(json.dumps(config))
    found = subprocess.run(
        [*tap, "--config", str(folder / "d.json"), "--discover"],
        capture_output=True,
        timeout=120,
        check=True,
        env=_env(tap),
    )
    catalog: dict[str, Any] = json.loads(found.stdout)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            item["metadata"]["selected"] = True
    return catalog


@contextmanager
def peer_taps(folder: Path, peers: Path) -> Iterator[dict[str, bytes]]:
    """Peer tap name → its messages: MeltanoLabs tap-postgres on the sample table, tap-jsonl on
    JSON lines of the same rows."""
    out: dict[str, bytes] = {}
    pg = services.postgres()
    tap = peers / "tap-postgres" / "bin" / "tap-postgres"
    if tap.exists():
        with pg_schema(pg.dsn) as (schema, cursor):
            cursor.execute(PG_TABLE.format(t=f'"{schema}".items'))
            cursor.executemany(f'INSERT INTO "{schema}".items VALUES (%s,%s,%s,%s,%s,%s,%s,%s)', _rows())
            config = {
                "host": pg.host,
                "port": pg.port,
                "user": pg.user,
                "password": "unused",
                "database": pg.db,
                "filter_schemas": [schema],
            }
            catalog = peer_pg_catalog([str(tap)], config, folder / "peer-pg")
            out["MeltanoLabs tap-postgres"] = run_tap([str(tap)], config, folder / "peer-pg", catalog)
    jsonl = peers / "tap-jsonl" / "bin" / "tap-jsonl"
    if jsonl.exists():
        source = folder / "jsonl-source"
        source.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps({"id": r[0], "name": r[1], "doc": json.loads(r[7]), "ok": r[4]}) for r in _rows()]
        (source / "items.jsonl").write_text("\n".join(lines) + "\n")
        config = {"path": str(source / "*.jsonl"), "stream_name": "items", "primary_keys": ["id"]}
        out["tap-jsonl"] = run_tap([str(jsonl)], config, folder / "peer-jsonl")
    yield out
