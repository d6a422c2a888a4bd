#!/usr/bin/env python3
"""Log-based changes from PostgreSQL into Iceberg (`tap-postgres | target-iceberg`, LOG_BASED):
change throughput and end-to-end latency (docs/CDC.md).

Throughput: a table of ``--changes`` rows is snapshotted, then ``--changes`` changes are made
(inserts 50 %, updates 30 %, deletes 20 %, in transactions of 1,000) and one run applies them:
changes per second of wall time and CPU seconds (tap and target) per 1,000 changes; the table is
checked against the source. Latency: a writer commits ``--rate`` inserts a second for
``--seconds``, each stamped with ``clock_timestamp()``, while runs follow one another; each row's
latency is the end of the run that made it visible minus its commit stamp (p50, p95, max).

    export DATIVO_SERVICES_DIR=...   # the services of scripts/services.sh, as the tests use them
    .venv/bin/python benchmarks/cdc_bench.py --changes 200000 --rate 1000 --seconds 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO)]

import psycopg2  # noqa: E402
from target_iceberg.catalog import open_catalog  # noqa: E402

from tests import services  # noqa: E402
from tests.helpers.databases import TAPS, TARGET, pg_schema, unique_name, write_json  # noqa: E402

TABLE = """CREATE TABLE {t} (id bigint PRIMARY KEY, status text, amount numeric(12,2),
    note text, stamped timestamptz NOT NULL DEFAULT clock_timestamp())"""
TXN = 1000  # changes per transaction of the throughput phase
GOAL_RATE = 50_000  # changes applied per second (issue #29)
GOAL_LATENCY = 5.0  # seconds, p95 at a steady 1,000 changes/s


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Bench:
    """One schema, slot and warehouse; runs of the pipe from the last emitted state."""

    def __init__(
        self, service: Any, schema: str, tmp: Path, batch_seconds: float, profile: Path | None = None
    ) -> None:
        self.tmp, self.slot, self.profile = tmp, unique_name("bench_slot"), profile
        self.cpu = {"tap": 0.0, "target": 0.0}
        self.table = f'"{schema}".items'
        self.config = {
            "host": service.host,
            "port": service.port,
            "user": service.user,
            "database": service.db,
            "filter_schemas": [schema],
            "replication_slot": self.slot,
            "publication": self.slot,
            "batch_config": {"encoding": {"format": "parquet"}, "storage": {"root": (tmp / "b").as_uri()}},
        }
        (tmp / "b").mkdir()
        self.target = {"warehouse_dir": str(tmp / "wh"), "namespace": "bench", "batch_seconds": batch_seconds}
        stream = f"{schema}-items"
        self.catalog = {
            "streams": [
                {
                    "tap_stream_id": stream,
                    "stream": stream,
                    "replication_method": "LOG_BASED",
                    "key_properties": ["id"],
                    "schema": self._schema(),
                    "metadata": [
                        {
                            "breadcrumb": [],
                            "metadata": {
                                "selected": True,
                                "schema-name": schema,
                                "table-key-properties": ["id"],
                            },
                        }
                    ],
                }
            ]
        }
        self.config["tables"] = {stream: f"{schema}.items"}
        self.state: dict[str, Any] | None = None
        self.identifier = f"bench.{stream.replace('-', '_')}"

    @staticmethod
    def _schema() -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "status": {"type": ["string", "null"]},
                "amount": {"type": ["number", "null"], "multipleOf": 0.01, "maximum": 9999999999.99},
                "note": {"type": ["string", "null"]},
                "stamped": {"type": ["string", "null"], "format": "date-time"},
            },
        }

    def _command(self, base: list[str], side: str) -> list[str]:
        if self.profile is None:
            return base
        code = base[-1].replace(
            "main()", f"import cProfile; cProfile.run('main()', {str(self.profile / side)!r})"
        )
        return [*base[:-1], f"import sys; sys.argv[0] = {side!r}; " + code]

    def run(self) -> tuple[float, float]:
        """One pipe run (tap and target, CPU of each kept in ``self.cpu``): (wall, CPU seconds)."""
        started, tag = time.perf_counter(), str(time.monotonic_ns())
        args = ["--config", str(write_json(self.tmp / f"tap-{tag}.json", self.config))]
        args += ["--catalog", str(write_json(self.tmp / f"catalog-{tag}.json", self.catalog))]
        if self.state is not None:
            args += ["--state", str(write_json(self.tmp / f"state-{tag}.json", self.state))]
        target_args = ["--config", str(write_json(self.tmp / f"target-{tag}.json", self.target))]
        err = (self.tmp / f"err-{tag}").open("w+")
        tap = subprocess.Popen(
            [*self._command(TAPS["postgres"], "tap"), *args], stdout=subprocess.PIPE, stderr=err
        )
        target = subprocess.Popen(
            [*self._command(TARGET, "target"), *target_args],
            stdin=tap.stdout,
            stdout=subprocess.PIPE,
            stderr=err,
        )
        assert tap.stdout is not None and target.stdout is not None
        tap.stdout.close()
        out = target.stdout.read()
        codes, cpu = [], 0.0
        for side, proc in (("tap", tap), ("target", target)):
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            codes.append(proc.returncode)
            self.cpu[side] += usage.ru_utime + usage.ru_stime
            cpu += usage.ru_utime + usage.ru_stime
        if codes != [0, 0]:
            err.seek(0)
            raise RuntimeError(err.read()[-3000:])
        err.close()
        states = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        self.state = states[-1] if states else self.state
        return time.perf_counter() - started, cpu

    def lake(self) -> Any:
        return open_catalog(self.target).load_table(self.identifier).scan().to_arrow()

    def close(self, cursor: Any) -> None:
        cursor.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
            (self.slot,),
        )
        cursor.execute(f'DROP PUBLICATION IF EXISTS "{self.slot}"')


def throughput(bench: Bench, cursor: Any, changes: int) -> dict[str, Any]:
    cursor.execute(
        f"INSERT INTO {bench.table} (id, status, amount, note) SELECT g, 'new', g % 1000, "
        f"'row ' || g FROM generate_series(1, {changes}) g"
    )
    snapshot_wall, _ = bench.run()
    next_id, made = changes + 1, 0
    while made < changes:
        ins, upd, dele = TXN // 2, TXN * 3 // 10, TXN // 5
        low = 1 + (made // TXN) * (upd + dele)
        cursor.execute(
            f"BEGIN; INSERT INTO {bench.table} (id, status, amount, note) SELECT g, 'new', 1, 'n' "
            f"FROM generate_series({next_id}, {next_id + ins - 1}) g; "
            f"UPDATE {bench.table} SET status = 'paid', amount = amount + 1 "
            f"WHERE id BETWEEN {low} AND {low + upd - 1}; "
            f"DELETE FROM {bench.table} WHERE id BETWEEN {low + upd} AND {low + upd + dele - 1}; COMMIT"
        )
        next_id += ins
        made += TXN
    bench.cpu = {"tap": 0.0, "target": 0.0}
    load = os.getloadavg()[0]
    wall, cpu = bench.run()
    cursor.execute(f"SELECT count(*), sum(amount) FROM {bench.table}")
    count, total = cursor.fetchone()
    lake = bench.lake()
    assert (lake.num_rows, sum(v for v in lake.column("amount").to_pylist())) == (count, total), (
        f"table differs: {lake.num_rows} rows, source {count}"
    )
    return {
        "changes": made,
        "snapshot_rows": changes,
        "snapshot_seconds": round(snapshot_wall, 2),
        "apply_seconds": round(wall, 2),
        "apply_cpu_seconds": round(cpu, 2),
        "tap_cpu_seconds": round(bench.cpu["tap"], 2),
        "target_cpu_seconds": round(bench.cpu["target"], 2),
        "changes_per_second": round(made / wall),
        "changes_per_cpu_second": round(made / cpu),
        "cpu_seconds_per_1000_changes": round(cpu / made * 1000, 4),
        "load_average": round(max(load, os.getloadavg()[0]), 1),
    }


def goal(name: str, ours: float, reference: float, higher_is_better: bool = True) -> str:
    """One goal line: our figure, the reference, the ratio and PASS/MISS."""
    met = ours >= reference if higher_is_better else ours <= reference
    ratio = ours / reference if reference else float("inf")
    verdict = "PASS" if met else "MISS"
    return f"goal {name}: ours {ours:,.2f}, reference {reference:,.2f}, ratio {ratio:.2f}, {verdict}"


def follow(
    bench: Any, writer: Callable[[], None], done: threading.Event, rate: int, seconds: float
) -> dict[str, Any]:
    """Runs back to back while ``writer`` (which sets ``done`` when it stops) inserts stamped rows
    with keys from 10**9: each new row's latency from its stamp to the end of the run that showed it."""
    thread = threading.Thread(target=writer)
    thread.start()
    seen: set[int] = set()
    latencies: list[float] = []
    runs = 0
    while True:
        finished = done.is_set()
        bench.run()
        runs += 1
        visible = dt.datetime.now(dt.timezone.utc)
        lake = bench.lake()
        for key, stamp in zip(lake.column("id").to_pylist(), lake.column("stamped").to_pylist(), strict=True):
            if key >= 10**9 and key not in seen:
                seen.add(key)
                latencies.append((visible - stamp).total_seconds())
        if finished:
            break
    thread.join()
    latencies.sort()
    return {
        "rate": rate,
        "seconds": seconds,
        "rows": len(latencies),
        "runs": runs,
        "p50": round(statistics.median(latencies), 2),
        "p95": round(latencies[int(len(latencies) * 0.95)], 2),
        "max": round(latencies[-1], 2),
    }


def latency(bench: Bench, dsn: str, rate: int, seconds: float) -> dict[str, Any]:
    done = threading.Event()

    def writer() -> None:
        connection = psycopg2.connect(dsn)
        connection.autocommit = True
        cursor, next_id, started = connection.cursor(), 10**9, time.monotonic()
        per_txn = max(1, rate // 10)
        while time.monotonic() - started < seconds:
            cursor.execute(
                f"INSERT INTO {bench.table} (id, status) SELECT g, 'live' FROM "
                f"generate_series({next_id}, {next_id + per_txn - 1}) g"
            )
            next_id += per_txn
            time.sleep(max(0.0, 0.1 - (time.monotonic() - started) % 0.1))
        connection.close()
        done.set()

    return follow(bench, writer, done, rate, seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--batch-seconds", type=float, default=1.0, help="target-iceberg batch_seconds")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--profile", type=Path, help="folder for cProfile files of the tap and the target")
    args = parser.parse_args()
    service = services.postgres()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder, pg_schema(service.dsn) as (schema, cursor):
        cursor.execute(TABLE.format(t=f'"{schema}".items'))
        bench = Bench(service, schema, Path(folder), args.batch_seconds, args.profile)
        try:
            if not args.skip_throughput:
                results["throughput"] = found = throughput(bench, cursor, args.changes)
                print(json.dumps(found), flush=True)
                print(goal("changes/s applied (wall)", found["changes_per_second"], GOAL_RATE), flush=True)
                print(goal("changes per CPU-second", found["changes_per_cpu_second"], GOAL_RATE), flush=True)
            if not args.skip_latency:
                results["latency"] = found = latency(bench, service.dsn, args.rate, args.seconds)
                print(json.dumps(found), flush=True)
                print(goal("latency p95 s", found["p95"], GOAL_LATENCY, higher_is_better=False), flush=True)
        finally:
            bench.close(cursor)
    return 0


if __name__ == "__main__":
    sys.exit(main())
