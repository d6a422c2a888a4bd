#!/usr/bin/env python3
"""A 1M-row, 8-column CSV file into Iceberg: `dativo run` (BATCH fast path and RECORD path)
against dlt (`filesystem` + `read_csv` into an Iceberg table) and the floor (`pyarrow.csv.read_csv`
plus one pyiceberg append), in one run.

Each contender is one subprocess (with its own children: `dativo run` starts tap-csv and
target-iceberg), timed from start to exit. Printed per contender: wall seconds, rows/s,
CPU-seconds (user+sys of the process and all its children, from ``os.wait4``) per million rows,
peak RSS (the largest sum of the RSS of the process tree, sampled every 20 ms) and the ratio of
its wall time to ours (the fast path). Rows landed are counted from the Iceberg table's data files.

    .venv/bin/python benchmarks/csv_bench.py                 # 1M rows, every contender
    .venv/bin/python benchmarks/csv_bench.py --rows 200000 --skip record dlt
    .venv/bin/python benchmarks/csv_bench.py --rows 10000000 --skip record dlt   # the large-run goals

With the floor measured, each goal is printed with both figures, the ratio and PASS or MISS (at
1M rows: wall <= 1.5x and CPU <= 2x the floor; from 5M rows: wall <= 1.3x and the tree's peak
under 500 MB), then our CPU and peak RSS per program (runner, tap, target).

dlt runs from ``benchmarks/.dlt-venv`` (gitignored), created on first use with
``dlt[filesystem,pyiceberg]==1.31.0`` and pandas (``read_csv`` reads with pandas); when it
cannot be installed the script says so and goes on without it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
OUT = BENCH / "out"
sys.path.insert(0, str(REPO))

from benchmarks.proc_tree import wait_sampling  # noqa: E402

DLT_VENV = BENCH / ".dlt-venv"
DLT_PACKAGES = ["dlt[filesystem,pyiceberg]==1.31.0", "pandas"]
COLUMNS = "id,customer,amount,quantity,price,is_gift,created_at,note"
ASSET = """\
asset:
  name: bench_orders
  source_type: csv
  object: orders
  version: "1.0"
  primary_key: [id]
  schema:
    - {name: id, type: integer, required: true}
    - {name: customer, type: string}
    - {name: amount, type: "decimal(12,2)"}
    - {name: quantity, type: integer}
    - {name: price, type: double}
    - {name: is_gift, type: boolean}
    - {name: created_at, type: timestamp}
    - {name: note, type: string}
  governance: {owner: bench@example.com}
"""
FLOOR = """\
import sys, pyarrow as pa, pyarrow.csv as pacsv
from pyiceberg.catalog.sql import SqlCatalog
csv_path, warehouse = sys.argv[1], sys.argv[2]
types = {"id": pa.int64(), "customer": pa.string(), "amount": pa.decimal128(12, 2),
         "quantity": pa.int64(), "price": pa.float64(), "is_gift": pa.bool_(),
         "created_at": pa.timestamp("us", tz="UTC"), "note": pa.string()}
table = pacsv.read_csv(csv_path, convert_options=pacsv.ConvertOptions(column_types=types))
catalog = SqlCatalog("floor", uri=f"sqlite:///{warehouse}/catalog.db", warehouse=f"file://{warehouse}")
catalog.create_namespace("bench")
catalog.create_table("bench.orders", schema=table.schema).append(table)
"""
DLT = """\
import sys, dlt
from dlt.sources.filesystem import filesystem, read_csv
folder, name, warehouse = sys.argv[1], sys.argv[2], sys.argv[3]
rows = filesystem(bucket_url=f"file://{folder}", file_glob=name) | read_csv()
pipeline = dlt.pipeline(pipeline_name="csv_bench", pipelines_dir=f"{warehouse}/.dlt",
                        destination=dlt.destinations.filesystem(f"file://{warehouse}"),
                        dataset_name="bench")
print(pipeline.run(rows.with_name("orders"), table_format="iceberg"))
"""


@dataclass
class Result:
    name: str
    seconds: float
    cpu_seconds: float
    peak_mb: float
    rows: int
    ok: bool
    note: str = ""
    processes: dict[str, tuple[float, float]] = field(default_factory=dict)  # name: CPU s, peak MB


def write_csv(path: Path, rows: int, first_id: int = 1) -> None:
    """``rows`` deterministic orders rows: bigint, text, decimal, int, double, bool, timestamp,
    text (30% empty); ids from ``first_id`` (another ``first_id``, another file's content)."""
    rnd = random.Random(20261128)
    with path.open("w", encoding="utf-8") as out:
        out.write(COLUMNS + "\n")
        for start in range(0, rows, 100_000):
            lines = []
            for i in range(start + 1, min(rows, start + 100_000) + 1):
                note = "" if rnd.random() < 0.3 else f"note {rnd.randrange(10**6)}"
                row_id = i + first_id - 1
                lines.append(
                    f"{row_id},customer {i % 9973},{rnd.randrange(10**7) / 100:.2f},{rnd.randrange(1, 50)},"
                    f"{rnd.random() * 1000:.6f},{'true' if i % 7 == 0 else 'false'},"
                    f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{i * 7 % 60:02d}Z,"
                    f"{note}\n"
                )
            out.write("".join(lines))


def measure(
    name: str, cmd: list[str], rows_landed: Callable[[], int], cwd: Path, env: dict[str, str] | None = None
) -> Result:
    """Run ``cmd`` to its end; wall time, CPU of the process tree, peak tree RSS."""
    log = OUT / f"{name.replace(' ', '_')}.log"
    started = time.perf_counter()
    with log.open("w") as handle:
        process = subprocess.Popen(cmd, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, env=env)
        waited = wait_sampling(process, started)
    code, usage = waited.code, waited.usage
    landed = rows_landed() if code == 0 else 0
    processes: dict[str, tuple[float, float]] = {}
    for seen in waited.processes.values():
        cpu, peak = processes.get(seen.name, (0.0, 0.0))
        processes[seen.name] = (cpu + seen.cpu, max(peak, seen.peak_kib * 1024 / 1e6))
    return Result(
        name,
        waited.wall,
        usage.ru_utime + usage.ru_stime,
        waited.peak_kib * 1024 / 1e6,
        landed,
        code == 0,
        "" if code == 0 else f"exit {code}, see {log}",
        processes,
    )


def data_rows(folder: Path) -> int:
    """Rows in the Parquet data files under ``folder`` (appends only: no delete files)."""
    import pyarrow.parquet as pq

    files = [p for p in folder.rglob("*.parquet") if "/data/" in str(p) and "metadata" not in p.parts]
    return sum(pq.read_metadata(p).num_rows for p in files)


def _fresh_run(
    warehouse: Path, command: list[str], table_folder: str
) -> tuple[list[str], Path, Callable[[], int]]:
    """An empty ``warehouse`` folder, the command writing into it, and its row counter."""
    shutil.rmtree(warehouse, ignore_errors=True)
    warehouse.mkdir(parents=True)
    return [*command, str(warehouse)], OUT, lambda: data_rows(warehouse / table_folder)


def dativo_home(
    root: Path, csv_path: Path, fast: bool, pattern: str = "data/orders.csv"
) -> tuple[Path, Path]:
    """A project home with the repo's registry and connectors, the bench asset and a job reading
    ``pattern`` (``data/orders*.csv``: files added later join the job)."""
    shutil.rmtree(root, ignore_errors=True)
    for folder in ("registry", "connectors", "configs"):
        shutil.copytree(REPO / folder, root / folder)
    (root / "assets/csv/v1.0").mkdir(parents=True)
    (root / "assets/csv/v1.0/orders.yaml").write_text(ASSET)
    (root / "data").mkdir()
    os.link(csv_path, root / "data" / "orders.csv")
    job = root / "jobs/bench/orders.yaml"
    job.parent.mkdir(parents=True)
    source = {"objects": ["orders"], "files": [{"object": "orders", "path": pattern}]}
    if not fast:
        source["fast_path"] = False
    job.write_text(
        json.dumps(
            {
                "tenant_id": "bench",
                "environment": "bench",
                "source_connector": "csv",
                "source_connector_path": "connectors/sources/csv.yaml",
                "target_connector": "iceberg",
                "target_connector_path": "connectors/targets/iceberg.yaml",
                "asset": "bench_orders",
                "asset_path": "assets/csv/v1.0/orders.yaml",
                "source": source,
                "target": {},
            }
        )
    )
    return root, job


def dlt_python() -> Path | None:
    """The dlt venv's python, installed on first use; None (said) when it cannot be."""
    python = DLT_VENV / "bin" / "python"
    probe = [str(python), "-c", "import dlt, pyiceberg, pandas"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"csv_bench: installing {' '.join(DLT_PACKAGES)} into {DLT_VENV}", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(DLT_VENV)], check=True)
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *DLT_PACKAGES], capture_output=True, text=True
    )
    if installed.returncode != 0 or subprocess.run(probe, capture_output=True).returncode != 0:
        print(
            f"csv_bench: dlt could not be installed, skipping it:\n{installed.stderr[-2000:]}",
            file=sys.stderr,
        )
        return None
    return python


# The goals of the fast path against the floor: (what, limit), by size of run.
SMALL_GOALS = (("wall", 1.5), ("cpu", 2.0))
LARGE_GOALS = (("wall", 1.3), ("tree MB", 500.0))  # from 5M rows on
LARGE_ROWS = 5_000_000


def print_goals(results: list[Result], rows: int) -> None:
    """Each goal with our figure, the floor's, the ratio and PASS/MISS; then where our CPU went
    (per program, sampled from /proc every 20 ms)."""
    ours = next((r for r in results if r.ok and "fast" in r.name), None)
    floor = next((r for r in results if r.ok and r.name.startswith("floor")), None)
    if ours is None or floor is None:
        return
    print(f"\ngoals at {rows:,} rows (fast path against the floor):")
    for what, limit in LARGE_GOALS if rows >= LARGE_ROWS else SMALL_GOALS:
        if what == "tree MB":
            verdict = "PASS" if ours.peak_mb < limit else "MISS"
            print(
                f"  tree peak   ours {ours.peak_mb:7.0f} MB  floor {floor.peak_mb:7.0f} MB  "
                f"goal < {limit:.0f} MB  {verdict}"
            )
            continue
        mine, theirs = (
            (ours.seconds, floor.seconds) if what == "wall" else (ours.cpu_seconds, floor.cpu_seconds)
        )
        ratio = mine / theirs
        verdict = "PASS" if ratio <= limit else "MISS"
        print(
            f"  {what + ' s':10}  ours {mine:7.2f}     floor {theirs:7.2f}     ratio {ratio:.2f}x  "
            f"goal <= {limit}x  {verdict}"
        )
    print(
        "ours per program (CPU s sampled, peak MB): "
        + ", ".join(
            f"{name} {cpu:.2f} s {peak:.0f} MB" for name, (cpu, peak) in sorted(ours.processes.items())
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--skip", nargs="*", default=[], choices=["fast", "record", "dlt", "floor"])
    parser.add_argument("--json", type=Path, help="write the results as JSON")
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender (the median is shown)")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    csv_path = OUT / f"orders-{args.rows}.csv"
    if not csv_path.exists():
        write_csv(csv_path, args.rows)
    print(f"{args.rows:,} rows, {csv_path.stat().st_size / 1e6:.0f} MB: {csv_path}", file=sys.stderr)
    load = os.getloadavg()
    dativo = [str(Path(sys.executable).parent / "dativo")]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    contenders: list[tuple[str, Callable[[], tuple[list[str], Path, Callable[[], int]]]]] = []
    for key, name, fast in (
        ("fast", "dativo run (fast path)", True),
        ("record", "dativo run (RECORD path)", False),
    ):
        if key not in args.skip:

            def setup(fast: bool = fast) -> tuple[list[str], Path, Callable[[], int]]:
                home, job = dativo_home(OUT / ("home-fast" if fast else "home-record"), csv_path, fast)
                command = [*dativo, "run", "--config", str(job), "--home", str(home)]
                return command, home, lambda: data_rows(home / "warehouse")

            contenders.append((name, setup))
    dlt = None if "dlt" in args.skip else dlt_python()
    if dlt is not None:
        (OUT / "dlt_load.py").write_text(DLT)
        contenders.append(
            (
                "dlt filesystem+read_csv",
                lambda: _fresh_run(
                    OUT / "dlt-warehouse",
                    [str(dlt), str(OUT / "dlt_load.py"), str(OUT), csv_path.name],
                    "bench",
                ),
            )
        )
    if "floor" not in args.skip:
        (OUT / "floor_load.py").write_text(FLOOR)
        contenders.append(
            (
                "floor: pyarrow read_csv + append",
                lambda: _fresh_run(
                    OUT / "floor-warehouse", [sys.executable, str(OUT / "floor_load.py"), str(csv_path)], ""
                ),
            )
        )
    runs: dict[str, list[Result]] = {name: [] for name, _ in contenders}
    for _ in range(args.repeat):  # rounds, so that every contender sees the same load
        for name, setup in contenders:
            command, cwd, landed = setup()
            runs[name].append(measure(name, command, landed, cwd, env))
    results = [sorted(rs, key=lambda r: (not r.ok, r.seconds))[len(rs) // 2] for rs in runs.values()]
    if "dlt" not in args.skip and dlt is None:
        results.append(Result("dlt filesystem+read_csv", 0, 0, 0, 0, False, "not installed"))
    print(f"load average before: {load}, after: {os.getloadavg()}; median of {args.repeat} run(s)")
    ours = next((r.seconds for r in results if r.ok and "fast" in r.name), None)
    print(
        f"\n{'contender':34} {'wall s':>7} {'rows/s':>10} {'CPU s/1M':>9} {'peak MB':>8} {'x ours':>7}  rows"
    )
    for r in results:
        if not r.ok:
            print(f"{r.name:34} {'-':>7} {'-':>10} {'-':>9} {'-':>8} {'-':>7}  {r.note}")
            continue
        ratio = f"{r.seconds / ours:.2f}" if ours else "-"
        print(
            f"{r.name:34} {r.seconds:7.1f} {r.rows / r.seconds:10,.0f} "
            f"{r.cpu_seconds * 1e6 / args.rows:9.1f} "
            f"{r.peak_mb:8.0f} {ratio:>7}  {r.rows:,}{'' if r.rows == args.rows else ' (WRONG COUNT)'}"
        )
    print_goals(results, args.rows)
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in results], indent=2))
    return 0 if all(r.ok and r.rows == args.rows for r in results if r.note != "not installed") else 1


if __name__ == "__main__":
    sys.exit(main())
