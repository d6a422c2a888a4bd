#!/usr/bin/env python3
"""Log-based changes from MariaDB/MySQL into Iceberg (`tap-mysql | target-iceberg`, LOG_BASED,
the row-based binlog): change throughput and end-to-end latency (docs/CDC.md).

The same measure as benchmarks/cdc_bench.py (PostgreSQL): a table of ``--changes`` rows is
snapshotted, then ``--changes`` changes are made (inserts 50 %, updates 30 %, deletes 20 %, in
transactions of 1,000) and one run applies them: changes per second of wall time and CPU seconds
(tap and target, each apart) per 1,000 changes, against the goal of 50,000 changes a second
applied; the table is checked against the source. ``--profile DIR`` runs both programs of the
change run under cProfile (``DIR/tap.prof``, ``DIR/target.prof``). Latency: a writer commits
``--rate`` inserts a second for ``--seconds``, each stamped with the commit time, while runs
follow one another; a row's latency is the end of the run that made it visible minus its stamp.

    export DATIVO_SERVICES_DIR=...   # the services of scripts/services.sh, as the tests use them
    .venv/bin/python benchmarks/cdc_mysql_bench.py --changes 1000000 --batch-seconds 60 --skip-latency
    .venv/bin/python benchmarks/cdc_mysql_bench.py --changes 200000 --rate 1000 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

from cdc_bench import TXN, follow  # noqa: E402
from target_iceberg.catalog import open_catalog  # noqa: E402

from tests import services  # noqa: E402
from tests.helpers.databases import TAPS, TARGET, mariadb_database, write_json  # noqa: E402

GOAL_CHANGES_PER_SECOND = 50_000

TABLE = """CREATE TABLE items (id bigint PRIMARY KEY, status varchar(10), amount decimal(12,2),
    note varchar(40), stamped timestamp(6) NOT NULL DEFAULT current_timestamp(6))"""


class Bench:
    """One database and warehouse; runs of the pipe from the last emitted state."""

    def __init__(self, service: Any, database: str, tmp: Path, batch_seconds: float) -> None:
        self.tmp = tmp
        stream = f"{database}-items"
        (tmp / "b").mkdir()
        self.config = {
            "host": service.host,
            "port": service.port,
            "user": service.user,
            "database": database,
            "tables": {stream: f"{database}.items"},
            "batch_config": {"encoding": {"format": "parquet"}, "storage": {"root": (tmp / "b").as_uri()}},
        }
        self.target = {"warehouse_dir": str(tmp / "wh"), "namespace": "bench", "batch_seconds": batch_seconds}
        schema = {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "status": {"type": ["string", "null"]},
                "amount": {"type": ["number", "null"], "multipleOf": 0.01, "maximum": 9999999999.99},
                "note": {"type": ["string", "null"]},
                "stamped": {"type": ["string", "null"], "format": "date-time"},
            },
        }
        self.catalog = {
            "streams": [
                {
                    "tap_stream_id": stream,
                    "stream": stream,
                    "replication_method": "LOG_BASED",
                    "key_properties": ["id"],
                    "schema": schema,
                    "metadata": [
                        {
                            "breadcrumb": [],
                            "metadata": {
                                "selected": True,
                                "schema-name": database,
                                "table-key-properties": ["id"],
                            },
                        }
                    ],
                }
            ]
        }
        self.state: dict[str, Any] | None = None
        self.identifier = f"bench.{stream.replace('-', '_')}"
        self.runs = 0

    def run(self, profile: Path | None = None) -> tuple[float, float, float]:
        """One pipe run: (wall, tap CPU seconds, target CPU seconds)."""
        self.runs += 1
        tmp, tag = self.tmp, str(self.runs)
        tap = [*TAPS["mysql"], "--config", str(write_json(tmp / f"tap{tag}.json", self.config))]
        tap += ["--catalog", str(write_json(tmp / f"catalog{tag}.json", self.catalog))]
        if self.state is not None:
            tap += ["--state", str(write_json(tmp / f"state{tag}.json", self.state))]
        target = [*TARGET, "--config", str(write_json(tmp / f"target{tag}.json", self.target))]
        if profile is not None:
            tap, target = _profiled(tap, profile / "tap.prof"), _profiled(target, profile / "target.prof")
        started = time.perf_counter()
        with (tmp / "tap.err").open("w") as tap_err, (tmp / "target.err").open("w") as target_err:
            tap_proc = subprocess.Popen(tap, stdout=subprocess.PIPE, stderr=tap_err, cwd=tmp)
            target_proc = subprocess.Popen(target, stdin=tap_proc.stdout, stdout=subprocess.PIPE,
                                           stderr=target_err, cwd=tmp)  # fmt: skip
            assert tap_proc.stdout is not None and target_proc.stdout is not None
            tap_proc.stdout.close()
            out = target_proc.stdout.read()
            cpu = {}
            for proc in (tap_proc, target_proc):
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                cpu[proc.pid] = usage.ru_utime + usage.ru_stime
        if (tap_proc.returncode, target_proc.returncode) != (0, 0):
            raise RuntimeError(((tmp / "tap.err").read_text() + (tmp / "target.err").read_text())[-3000:])
        states = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
        self.state = states[-1] if states else self.state
        return time.perf_counter() - started, cpu[tap_proc.pid], cpu[target_proc.pid]

    def lake(self) -> Any:
        return open_catalog(self.target).load_table(self.identifier).scan().to_arrow()


def _profiled(command: list[str], output: Path) -> list[str]:
    """``python -c CODE`` run under cProfile, its profile written to ``output``."""
    code = command[2]
    wrapped = f"import cProfile; cProfile.run({code!r}, {str(output)!r})"
    return [command[0], "-c", wrapped, *command[3:]]


def throughput(bench: Bench, cursor: Any, changes: int, profile: Path | None) -> dict[str, Any]:
    cursor.execute(
        f"INSERT INTO items (id, status, amount, note) SELECT seq, 'new', seq % 1000, "
        f"concat('row ', seq) FROM seq_1_to_{changes}"
    )
    snapshot_wall, _, _ = bench.run()
    next_id, made = changes + 1, 0
    while made < changes:
        ins, upd, dele = TXN // 2, TXN * 3 // 10, TXN // 5
        low = 1 + (made // TXN) * (upd + dele)
        cursor.execute("BEGIN")
        cursor.execute(
            f"INSERT INTO items (id, status, amount, note) SELECT seq, 'new', 1, 'n' "
            f"FROM seq_{next_id}_to_{next_id + ins - 1}"
        )
        cursor.execute(
            "UPDATE items SET status = 'paid', amount = amount + 1 "
            f"WHERE id BETWEEN {low} AND {low + upd - 1}"
        )
        cursor.execute(f"DELETE FROM items WHERE id BETWEEN {low + upd} AND {low + upd + dele - 1}")
        cursor.execute("COMMIT")
        next_id += ins
        made += TXN
    load = os.getloadavg()[0]
    wall, tap_cpu, target_cpu = bench.run(profile)
    cpu = tap_cpu + target_cpu
    cursor.execute("SELECT count(*), sum(amount) FROM items")
    count, total = cursor.fetchone()
    lake = bench.lake()
    assert (lake.num_rows, sum(lake.column("amount").to_pylist())) == (count, total), "table differs"
    return {
        "changes": made,
        "snapshot_rows": changes,
        "snapshot_seconds": round(snapshot_wall, 2),
        "apply_seconds": round(wall, 2),
        "changes_per_second": round(made / wall),
        "tap_cpu_seconds": round(tap_cpu, 2),
        "target_cpu_seconds": round(target_cpu, 2),
        "cpu_seconds_per_1000_changes": round(cpu / made * 1000, 4),
        "changes_per_cpu_second": round(made / cpu),
        "load_average": [round(load, 1), round(os.getloadavg()[0], 1)],
    }


def latency(bench: Bench, service: Any, database: str, rate: int, seconds: float) -> dict[str, Any]:
    done = threading.Event()

    def writer() -> None:
        connection = service.connect()
        cursor, next_id, started = connection.cursor(), 10**9, time.monotonic()
        cursor.execute(f"USE `{database}`")
        per_txn = max(1, rate // 10)
        while time.monotonic() - started < seconds:
            cursor.execute(
                "INSERT INTO items (id, status) SELECT seq, 'live' "
                f"FROM seq_{next_id}_to_{next_id + per_txn - 1}"
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
    parser.add_argument("--profile", type=Path, help="cProfile the change run: DIR/tap.prof, DIR/target.prof")
    args = parser.parse_args()
    service = services.mariadb()
    with tempfile.TemporaryDirectory() as folder, mariadb_database(service) as (database, cursor):
        cursor.execute("SET time_zone = '+00:00'")
        cursor.execute(TABLE)
        bench = Bench(service, database, Path(folder), args.batch_seconds)
        result = throughput(bench, cursor, args.changes, args.profile)
        print(json.dumps(result), flush=True)
        ours = result["changes_per_second"]
        verdict = "PASS" if ours >= GOAL_CHANGES_PER_SECOND else "MISS"
        print(f"goal: changes/s applied (wall)  ours {ours:,}  goal {GOAL_CHANGES_PER_SECOND:,}  "
              f"ratio {ours / GOAL_CHANGES_PER_SECOND:.2f}  {verdict}", flush=True)  # fmt: skip
        if not args.skip_latency:
            print(json.dumps(latency(bench, service, database, args.rate, args.seconds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
