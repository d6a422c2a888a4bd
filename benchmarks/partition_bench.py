"""A PostgreSQL table backfilled into one Iceberg table as 1, 2 and 4 partitions run side by side
(`dativo run --partition KEY` each, key ranges of ``order_id``), in one run of this script.

    .venv/bin/python benchmarks/partition_bench.py                    # 1,000,000 rows
    .venv/bin/python benchmarks/partition_bench.py --rows 10000000    # the record

The table is db_bench.py's ``bench_<rows>.orders`` (created once per row count and reused). For
each partition count, from an empty warehouse: wall seconds, rows/s, CPU seconds of every process
(runners, taps, targets), peak RSS of the whole tree, commits that lost an optimistic-concurrency
race and were retried, and whether the table is exact (row count, distinct keys, key sum).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.db_bench import _dativo_home, _measure, _prepare_postgres  # noqa: E402
from benchmarks.proc_tree import Figures  # noqa: E402

BIN = Path(sys.executable).parent


def _partitioned(job: Path, rows: int, count: int) -> list[str]:
    """The job made incremental, appending, with ``count`` key-range partitions; their keys."""
    data = json.loads(job.read_text())
    data["source"]["incremental"] = {"strategy": "cursor_column", "cursor_field": "updated_at"}
    data["target"] = {"write_mode": "append"}
    step = -(-rows // count)
    keys = [f"r{n}" for n in range(count)]
    data["partitions"] = {
        "static": {
            k: {"where": f"order_id > {n * step} AND order_id <= {(n + 1) * step}"}
            for n, k in enumerate(keys)
        }
    }
    job.write_text(json.dumps(data))
    return keys


def _exact(home: Path, rows: int) -> tuple[bool, str]:
    """The table holds every key 1..rows once: (exact, how it was checked)."""
    import pyarrow.compute as pc
    from target_iceberg.catalog import open_catalog

    table = open_catalog({"warehouse_dir": str(home / "warehouse")}).load_table("bench.bench_orders")
    keys = table.scan(selected_fields=("order_id",)).to_arrow().column("order_id")
    distinct = len(pc.unique(keys))
    total = pc.sum(keys).as_py()
    exact = len(keys) == rows and distinct == rows and total == rows * (rows + 1) // 2
    return exact, f"{len(keys):,} rows, {distinct:,} distinct keys"


def _run(schema: str, work: Path, rows: int, count: int) -> tuple[Figures, bool, str, int]:
    home, job = _dativo_home("postgres", schema, work)
    keys = _partitioned(job, rows, count)
    dativo = BIN / "dativo"
    runs = " ".join(
        f"( {dativo} run --config {job} --partition {k} --home {home} >/dev/null 2>{work}/run-{k}.log || "
        f"echo failed >>{work}/failed ) &"
        for k in keys
    )
    figures = _measure(f"{runs} wait; test ! -e {work}/failed", work, f"partitions-{count}")
    retried = sum((work / f"run-{k}.log").read_text().count("lost a concurrent update") for k in keys)
    exact, how = _exact(home, rows)
    shutil.rmtree(home, ignore_errors=True)
    return figures, exact, how, retried


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    schema = _prepare_postgres(args.rows)
    work = Path(tempfile.mkdtemp(prefix="dativo-partition-bench-"))
    print(f"postgres {schema}.orders, {args.rows:,} rows, one Iceberg table (embedded catalog)")
    print(
        f"{'partitions':>10} {'wall s':>8} {'rows/s':>10} {'CPU s':>7} {'tree MB':>8} {'retries':>8}  table"
    )
    first: float | None = None
    for count in args.partitions:
        figures, exact, how, retried = _run(schema, work, args.rows, count)
        first = first or figures.wall
        verdict = "exact" if exact else "NOT EXACT"
        print(
            f"{count:>10} {figures.wall:>8.2f} {args.rows / figures.wall:>10,.0f} {figures.cpu:>7.2f} "
            f"{figures.tree_mb:>8.0f} {retried:>8}  {verdict} ({how}); wall x{first / figures.wall:.2f} of 1"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
