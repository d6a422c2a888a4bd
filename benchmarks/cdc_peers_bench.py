#!/usr/bin/env python3
"""Log-based CDC from PostgreSQL, side by side: `dativo run` (`log_based`, pgoutput) into Iceberg
on the REST catalog, MeltanoLabs tap-postgres (`LOG_BASED`, wal2json) piped into a singer-sdk
target, and dlt's verified `pg_replication` source into dlt's filesystem destination as Iceberg.

One source table of ``--rows`` rows; each contender has its own replication slot and takes its
initial load (timed apart); then ``--changes`` changes are committed once (50 % inserts, 30 %
updates, 20 % deletes, in transactions of 1,000, as benchmarks/cdc_bench.py makes them) and each
contender applies them, one after the other. Measured per contender: wall seconds and CPU
seconds of every process of it (user + sys, benchmarks/proc_tree.py), changes/s and CPU-s per
1,000 changes, and apart from these the CPU of the PostgreSQL backend that decodes its slot
(wal2json or pgoutput run in the server: "server CPU"); then every contender's table
is compared with the source row by row (missing keys, keys the source no longer has, keys twice,
other values) and the issue's goals are printed with PASS/MISS.

    scripts/peers.sh install tap-postgres target-csv dlt-cdc   # the peers' venvs (pinned), in .peers/
    export DATIVO_SERVICES_DIR=...         # the services of scripts/services.sh
    .venv/bin/python benchmarks/cdc_peers_bench.py --changes 100000 \\
        --dlt-sources /path/to/verified-sources/sources
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent)]

from benchmarks.cdc_bench import TABLE, TXN  # noqa: E402
from benchmarks.cdc_peers import Contender, DltPeer, Ours, SingerPeer, SlotBackendCPU  # noqa: E402
from benchmarks.proc_tree import Figures  # noqa: E402
from tests import services  # noqa: E402
from tests.helpers.databases import pg_schema, unique_name  # noqa: E402

CHANGES_PER_SECOND_GOAL = 50_000
CHANGES = """DO $$
DECLARE next_id bigint := {rows} + 1; low bigint;
BEGIN
  FOR k IN 0..{transactions} - 1 LOOP
    low := 1 + k * {moved};
    INSERT INTO {t} (id, status, amount, note)
      SELECT g, 'new', 1, 'n' FROM generate_series(next_id, next_id + {inserts} - 1) g;
    UPDATE {t} SET status = 'paid', amount = amount + 1 WHERE id BETWEEN low AND low + {updates} - 1;
    DELETE FROM {t} WHERE id BETWEEN low + {updates} AND low + {moved} - 1;
    next_id := next_id + {inserts};
    COMMIT;
  END LOOP;
END $$"""


def make_changes(cursor: Any, table: str, rows: int, changes: int) -> tuple[int, float]:
    """Commit ``changes`` changes (rounded down to whole transactions): (made, seconds)."""
    inserts, updates, deletes = TXN // 2, TXN * 3 // 10, TXN // 5
    transactions = changes // TXN
    sql = CHANGES.format(
        rows=rows,
        transactions=transactions,
        moved=updates + deletes,
        inserts=inserts,
        updates=updates,
        t=table,
    )
    started = time.perf_counter()
    cursor.execute(sql)
    return transactions * TXN, time.perf_counter() - started


def _amount(value: Any) -> str | None:
    return None if value is None or value == "" else str(Decimal(str(value)).quantize(Decimal("0.01")))


def compare(result: Any, source: dict[int, tuple[Any, ...]]) -> dict[str, int]:
    """A contender's rows against the source's: counts of what differs (all 0 when exact)."""
    ids = result.column("id").to_pylist()
    values = zip(
        result.column("status").to_pylist(),
        [_amount(v) for v in result.column("amount").to_pylist()],
        result.column("note").to_pylist(),
        strict=True,
    )
    landed = dict(zip(ids, values, strict=True))
    return {
        "rows": len(ids),
        "keys twice": len(ids) - len(landed),
        "missing keys": sum(1 for key in source if key not in landed),
        "keys deleted in the source": sum(1 for key in landed if key not in source),
        "other values": sum(1 for key, row in source.items() if key in landed and landed[key] != row),
    }


def source_rows(cursor: Any, table: str) -> dict[int, tuple[Any, ...]]:
    cursor.execute(f"SELECT id, status, amount, note FROM {table}")
    return {row[0]: (row[1], _amount(row[2]), row[3]) for row in cursor.fetchall()}


def _contenders(args: argparse.Namespace, schema: str, work: Path, cursor: Any) -> list[Contender]:
    pg, chosen = services.postgres(), list[Contender]()
    if "ours" not in args.skip:
        services.ensure_up("seaweedfs")
        folder = work / "ours"
        folder.mkdir()
        chosen.append(Ours(pg, services.seaweedfs(), schema, folder, unique_name("peers_ours")))
    if "singer" not in args.skip:
        folder, slot = work / "singer", unique_name("peers_singer")
        folder.mkdir()
        cursor.execute("SELECT pg_create_logical_replication_slot(%s, 'wal2json')", (slot,))
        chosen.append(SingerPeer(pg, schema, folder, slot, args.peers, args.idle_exit))
    if "dlt" not in args.skip:
        folder = work / "dlt"
        folder.mkdir()
        python = args.peers / "dlt-cdc/bin/python"
        chosen.append(DltPeer(pg, schema, folder, unique_name("peers_dlt"), python, args.dlt_sources))
    return chosen


def _bench(args: argparse.Namespace, work: Path) -> tuple[int, dict[str, dict[str, Any]], list[float]]:
    """Load, change, apply, compare: (changes made, figures and checks by contender, load averages)."""
    load = [os.getloadavg()[0]]
    results: dict[str, dict[str, Any]] = {}
    with pg_schema(services.postgres().dsn) as (schema, cursor):
        table = f'"{schema}".items'
        cursor.execute(TABLE.format(t=table))
        cursor.execute(
            f"INSERT INTO {table} (id, status, amount, note) SELECT g, 'new', g % 1000, 'row ' || g "
            f"FROM generate_series(1, {args.rows}) g"
        )
        contenders = _contenders(args, schema, work, cursor)
        try:
            loads = {c.name: c.snapshot() for c in contenders}
            made, seconds = make_changes(cursor, table, args.rows, args.changes)
            print(f"{made:,} changes committed in {seconds:.1f} s", file=sys.stderr)
            for contender in contenders:
                with SlotBackendCPU(services.postgres().dsn, contender.slot) as server:
                    results[contender.name] = {"snapshot": loads[contender.name], "apply": contender.apply()}
                results[contender.name]["server CPU"] = server.seconds
                print(f"{contender.name}: {results[contender.name]['apply']}", file=sys.stderr)
            load.append(os.getloadavg()[0])
            source = source_rows(cursor, table)
            for contender in contenders:
                rows = contender.result()
                results[contender.name]["check"] = compare(rows, source)
                deleted = getattr(contender, "deleted_column", None)
                if deleted:  # what a reader that filters the rows marked deleted sees
                    live = rows.filter(pc.is_null(rows[deleted]))
                    results[contender.name]["check without marked deletes"] = compare(live, source)
        finally:
            for contender in contenders:
                contender.close(cursor)
    return made, results, load


def _verdict(check: dict[str, int]) -> str:
    differs = {k: v for k, v in check.items() if v and k != "rows"}
    return f"{check['rows']:,} rows, " + (", ".join(f"{v:,} {k}" for k, v in differs.items()) or "exact")


def _report(
    args: argparse.Namespace, made: int, results: dict[str, dict[str, Any]], load: list[float]
) -> None:
    print(
        f"\n{args.rows:,}-row table, {made:,} changes (50 % inserts, 30 % updates, 20 % deletes, "
        f"transactions of {TXN:,}); load average {load[0]:.1f} before, {load[1]:.1f} after applying"
    )
    header = f"{'contender':42} {'load wall':>9} {'load CPU':>8} {'apply wall':>10} {'apply CPU':>9}"
    print(f"{header} {'server CPU':>10} {'changes/s':>10} {'CPU-s/1k':>8}  table")
    for name, r in results.items():
        snap, apply = r["snapshot"], r["apply"]
        print(
            f"{name:42} {snap.wall:9.2f} {snap.cpu:8.2f} {apply.wall:10.2f} {apply.cpu:9.2f} "
            f"{r['server CPU']:10.2f} {made / apply.wall:10,.0f} {apply.cpu / made * 1000:8.3f}  "
            f"{_verdict(r['check'])}"
        )
        if "check without marked deletes" in r:
            print(f"{'':42} without the rows marked deleted: {_verdict(r['check without marked deletes'])}")
    if SingerPeer.name in results:
        print(f"(tap-postgres ends a read after {args.idle_exit} s without a change: its walls include that)")
    ours = results.get(Ours.name)
    if ours is None:
        return
    mine = ours["apply"]
    for name, r in results.items():
        if name == Ours.name:
            continue
        peer = r["apply"]
        print(
            f"goal: less CPU per change than {name}: ours {mine.cpu / made * 1000:.3f}, "
            f"peer {peer.cpu / made * 1000:.3f} CPU-s per 1k (peer/ours {peer.cpu / mine.cpu:.2f}x) "
            f"{'PASS' if mine.cpu < peer.cpu else 'MISS'}; wall peer/ours {peer.wall / mine.wall:.2f}x; "
            f"with the server's decoding peer/ours "
            f"{(peer.cpu + r['server CPU']) / (mine.cpu + ours['server CPU']):.2f}x"
        )
    rate = made / mine.wall
    print(
        f"goal: >= {CHANGES_PER_SECOND_GOAL:,} changes/s applied: ours {rate:,.0f} "
        f"(x{rate / CHANGES_PER_SECOND_GOAL:.2f}) {'PASS' if rate >= CHANGES_PER_SECOND_GOAL else 'MISS'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, help="rows of the table before the changes (default: --changes)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["ours", "singer", "dlt"])
    parser.add_argument("--dlt-sources", type=Path, help="the `sources` folder of dlt's verified sources")
    parser.add_argument(
        "--peers",
        type=Path,
        default=Path(os.environ.get("DATIVO_PEERS_DIR") or BENCH.parent / ".peers"),
        help="the peers' venvs (scripts/peers.sh)",
    )
    parser.add_argument(
        "--idle-exit",
        type=int,
        default=30,
        help="tap-postgres replication_idle_exit_seconds: too short, and the tap stops before the server "
        "has decoded a large backlog, then confirms its slot up to the WAL's end: the changes are lost",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (its path is printed)")
    args = parser.parse_args()
    args.rows = args.rows or args.changes
    if "dlt" not in args.skip and not (args.dlt_sources and (args.dlt_sources / "pg_replication").is_dir()):
        parser.error(
            "--dlt-sources: name the `sources` folder of a dlt verified-sources checkout (or --skip dlt)"
        )
    args.peers = args.peers.resolve()
    wanted = {"singer": ["tap-postgres", "target-csv"], "dlt": ["dlt-cdc"]}
    names = [name for key, peers in wanted.items() if key not in args.skip for name in peers]
    if names:  # quick when they are there
        env = {**os.environ, "DATIVO_PEERS_DIR": str(args.peers)}
        subprocess.run([str(BENCH.parent / "scripts/peers.sh"), "install", *names], check=True, env=env)
    services.ensure_up("postgres")
    work = Path(tempfile.mkdtemp(prefix="cdcpeers-"))
    print(f"work folder {work}", file=sys.stderr)
    try:
        made, results, load = _bench(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        figures = {
            n: {k: vars(v) if isinstance(v, Figures) else v for k, v in r.items()} for n, r in results.items()
        }
        args.json.write_text(
            json.dumps({"rows": args.rows, "changes": made, "load": load, **figures}, indent=1)
        )
    _report(args, made, results, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
