"""The database pairs of the interop matrix at scale (docs/SINGER_INTEROP.md): our tap-postgres and
tap-mysql into target-jsonl and MeltanoLabs target-postgres, MeltanoLabs tap-postgres into
target-iceberg, each reading a table of ``--rows`` rows (default 1,000,000).

    python -m tests.interop.matrix_large [--rows N] [--pair pg-jsonl ...] [--write FILE]
    (make interop-matrix-1m)

Tap and target run as a pipe, as a shell starts them; the time is the pipe's wall time. The rows
are then read back from the target one at a time and every cell is compared with the value
generated for its key (tests/interop/matrix_rows.py). ``--write`` replaces the rows of the pairs
run in the table between the markers and keeps the others.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests import services
from tests.helpers.databases import discover, mariadb_database, pg_schema, select, unique_name
from tests.interop.matrix import PEERS, target_postgres_config
from tests.interop.matrix_rows import Tally, seed_mariadb, seed_postgres
from tests.interop.matrix_sources import _env, peer_pg_catalog, program

BEGIN, END = "<!-- interop-matrix-1m:begin -->", "<!-- interop-matrix-1m:end -->"
HEADER = (
    "| tap | target | source rows → rows read back | equal cells / cells | pipe wall time | "
    "read back + compare | measured (UTC, 1-min load average) |\n|---|---|---|---|---|---|---|"
)
TIMEOUT = 3600
Source = tuple[list[str], dict[str, Any], dict[str, Any]]  # tap argv, config, catalog
Sink = tuple[list[str], dict[str, Any], Callable[[], Iterator[dict[str, Any]]]]  # argv, config, reader


def pipe(tap: Source, target: list[str], config: dict[str, Any], cwd: Path) -> float:
    """``tap | target`` through an OS pipe: its wall time; fails with the failing side's stderr tail."""
    argv, tap_config, catalog = tap
    (cwd / "tap.json").write_text(json.dumps(tap_config))
    (cwd / "catalog.json").write_text(json.dumps(catalog))
    (cwd / "target.json").write_text(json.dumps(config))
    started = time.monotonic()
    with (cwd / "tap.err").open("wb") as tap_err, (cwd / "target.err").open("wb") as target_err:
        tap_proc = subprocess.Popen(
            [*argv, "--config", str(cwd / "tap.json"), "--catalog", str(cwd / "catalog.json")],
            stdout=subprocess.PIPE,
            stderr=tap_err,
            cwd=cwd,
            env=_env(argv),
        )
        target_proc = subprocess.Popen(
            [*target, "--config", str(cwd / "target.json")],
            stdin=tap_proc.stdout,
            stdout=subprocess.DEVNULL,
            stderr=target_err,
            cwd=cwd,
            env=_env(target),
        )
        assert tap_proc.stdout is not None
        tap_proc.stdout.close()
        target_code = target_proc.wait(timeout=TIMEOUT)
        tap_code = tap_proc.wait(timeout=60)
    elapsed = time.monotonic() - started
    for side, code in (("tap", tap_code), ("target", target_code)):
        if code != 0:
            lines = (cwd / f"{side}.err").read_text(errors="replace").strip().splitlines() or [""]
            raise RuntimeError(f"{side} exit {code}: {lines[-1][:200]}")
    return elapsed


def jsonl_rows(folder: Path) -> Iterator[dict[str, Any]]:
    """Every line of the .jsonl files target-jsonl wrote."""
    for path in folder.glob("*.jsonl"):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line, parse_float=Decimal)


def postgres_rows(schema: str) -> Iterator[dict[str, Any]]:
    """Every row of the schema's one table, through a server-side cursor."""
    import psycopg2
    import psycopg2.extras

    with psycopg2.connect(services.postgres().dsn) as connection:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
            )
            tables = [r[0] for r in cursor.fetchall()]
        for table in tables:
            with connection.cursor("read", cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
                cursor.itersize = 20_000
                cursor.execute(f'SELECT * FROM "{schema}"."{table}"')
                yield from (dict(r) for r in cursor)


def iceberg_rows(warehouse: Path) -> Iterator[dict[str, Any]]:
    """Every row of the tables target-iceberg wrote, one Arrow batch at a time."""
    from pyiceberg.catalog import load_catalog

    root = warehouse.resolve()
    catalog = load_catalog(
        "dativo", type="sql", uri=f"sqlite:///{root / 'catalog.db'}", warehouse=root.as_uri()
    )
    for name in catalog.list_tables("mx"):
        for batch in catalog.load_table(name).scan().to_arrow_batch_reader():
            yield from batch.to_pylist()


@contextmanager
def into_target_jsonl(cwd: Path) -> Iterator[Sink]:
    """target-jsonl's argv, config and reader."""
    (cwd / "out").mkdir()
    config = {"destination_path": str(cwd / "out"), "do_timestamp_file": False}
    yield [str(PEERS / "target-jsonl/bin/target-jsonl")], config, lambda: jsonl_rows(cwd / "out")


@contextmanager
def into_target_postgres(cwd: Path) -> Iterator[Sink]:
    """MeltanoLabs target-postgres' argv, config (a throwaway schema, dropped after) and reader."""
    import psycopg2

    schema = unique_name("mx")
    try:
        argv = [str(PEERS / "target-postgres/bin/target-postgres")]
        yield argv, target_postgres_config(schema), lambda: postgres_rows(schema)
    finally:
        with psycopg2.connect(services.postgres().dsn) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def into_target_iceberg(cwd: Path) -> Iterator[Sink]:
    """Our target-iceberg's argv, config (embedded catalog under ``cwd``) and reader."""
    config = {"warehouse_dir": str(cwd / "wh"), "namespace": "mx"}
    yield program("target_iceberg.target"), config, lambda: iceberg_rows(cwd / "wh")


def _pg_config(schema: str) -> dict[str, Any]:
    pg = services.postgres()
    return {"host": pg.host, "port": pg.port, "user": pg.user, "password": "unused", "database": pg.db,
            "filter_schemas": [schema]}  # fmt: skip


@contextmanager
def from_tap_postgres(rows: int, cwd: Path) -> Iterator[Source]:
    """Our tap-postgres on a fresh table of ``rows`` rows."""
    services.ensure_up("postgres")
    with pg_schema(services.postgres().dsn) as (schema, cursor):
        seed_postgres(cursor, f'"{schema}".items', rows)
        config = _pg_config(schema)
        yield (
            program("tap_postgres.tap"),
            config,
            select(discover("postgres", config, cwd), f"{schema}-items"),
        )


@contextmanager
def from_tap_mysql(rows: int, cwd: Path) -> Iterator[Source]:
    """Our tap-mysql on a fresh table of ``rows`` rows."""
    services.ensure_up("mariadb")
    my = services.mariadb()
    with mariadb_database(my) as (database, cursor):
        seed_mariadb(cursor, "items", rows)
        config = {"host": my.host, "port": my.port, "user": my.user, "database": database,
                  "filter_schemas": [database]}  # fmt: skip
        yield program("tap_mysql.tap"), config, select(discover("mysql", config, cwd), f"{database}-items")


@contextmanager
def from_peer_tap_postgres(rows: int, cwd: Path) -> Iterator[Source]:
    """MeltanoLabs tap-postgres on a fresh table of ``rows`` rows, every stream selected."""
    services.ensure_up("postgres")
    tap = [str(PEERS / "tap-postgres/bin/tap-postgres")]
    with pg_schema(services.postgres().dsn) as (schema, cursor):
        seed_postgres(cursor, f'"{schema}".items', rows)
        config = _pg_config(schema)
        yield tap, config, peer_pg_catalog(tap, config, cwd)


PAIRS: dict[tuple[str, str], tuple[Callable[..., Any], Callable[..., Any]]] = {
    ("tap-postgres", "target-jsonl"): (from_tap_postgres, into_target_jsonl),
    ("tap-postgres", "target-postgres (MeltanoLabs)"): (from_tap_postgres, into_target_postgres),
    ("tap-mysql", "target-jsonl"): (from_tap_mysql, into_target_jsonl),
    ("tap-mysql", "target-postgres (MeltanoLabs)"): (from_tap_mysql, into_target_postgres),
    ("MeltanoLabs tap-postgres", "target-iceberg"): (from_peer_tap_postgres, into_target_iceberg),
}
# --pair names: pg (our tap-postgres), my (tap-mysql), peer-pg (MeltanoLabs tap-postgres)
SHORT = {"pg-jsonl": 0, "pg-postgres": 1, "my-jsonl": 2, "my-postgres": 3, "peer-pg-iceberg": 4}


def load_average() -> str:
    """The 1-minute load average, for the record of when a row was measured."""
    return f"{os.getloadavg()[0]:.1f}"


def run_pair(tap: str, target: str, rows: int, work: Path) -> tuple[Tally | None, str]:
    """One pair: the tally of what was read back (None when the pipe failed) and the table row."""
    source, sink = PAIRS[(tap, target)]
    cwd = Path(tempfile.mkdtemp(dir=work))
    with source(rows, cwd) as program_, sink(cwd) as (argv, config, read):
        when = f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M}, load {load_average()}"
        try:
            seconds = pipe(program_, argv, config, cwd)
        except Exception as exc:  # a peer failing is a result of the matrix, not an error of it
            return None, f"| {tap} | {target} | {rows:,} → fails: {str(exc)[:160]} | | | | {when} |"
        started, tally = time.monotonic(), Tally(rows)
        for landed in read():
            tally.add(landed)
        compared = time.monotonic() - started
    counts, cells = tally.summary()
    rate = f"{rows / seconds:,.0f} rows/s" if seconds else ""
    return (
        tally,
        f"| {tap} | {target} | {counts} | {cells} | {seconds:.1f} s ({rate}) | {compared:.1f} s | {when} |",
    )


def merge(text: str, lines: dict[tuple[str, str], str]) -> str:
    """``text`` with the table between the markers holding ``lines`` in place of the same pairs."""
    head, rest = text.split(BEGIN, 1)
    old, tail = rest.split(END, 1)
    rows: dict[tuple[str, str], str] = {}
    for line in old.splitlines()[3:]:
        tap, target = (c.strip() for c in line.split("|")[1:3])
        rows[(tap, target)] = line
    rows.update(lines)
    ordered = [rows[p] for p in PAIRS if p in rows]
    return f"{head}{BEGIN}\n{HEADER}\n" + "\n".join(ordered) + f"\n{END}{tail}"


def main() -> None:
    """Run the pairs; print their rows, or write them into ``--write``."""
    parser = argparse.ArgumentParser(prog="python -m tests.interop.matrix_large")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pair", action="append", choices=list(SHORT), help="default: every pair")
    parser.add_argument("--write", type=Path, help="a markdown file with the begin/end markers")
    args = parser.parse_args()
    pairs = list(PAIRS)
    wanted = [pairs[SHORT[p]] for p in args.pair] if args.pair else pairs
    lines: dict[tuple[str, str], str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for tap, target in wanted:
            print(f"{tap} -> {target}: {args.rows:,} rows", file=sys.stderr, flush=True)
            _, lines[(tap, target)] = run_pair(tap, target, args.rows, Path(tmp))
            print(lines[(tap, target)], flush=True)
    if args.write is not None:
        args.write.write_text(merge(args.write.read_text(), lines))


if __name__ == "__main__":
    main()
