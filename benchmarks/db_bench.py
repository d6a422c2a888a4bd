"""Database → Iceberg benchmark: our taps' fast path and RECORD path against the floor
(connectorx read + one Parquet write) and, when installed in benchmarks/.dlt-venv, dlt's
`sql_table` into Iceberg, side by side in one run.

    .venv/bin/python benchmarks/db_bench.py                 # 1M rows, PostgreSQL and MariaDB
    .venv/bin/python benchmarks/db_bench.py --rows 200000 --db postgres
    .venv/bin/python benchmarks/db_bench.py --db postgres --only-record --ours-repeat 3   # RECORD goal

Servers: the local test services (scripts/services.sh start postgres mariadb). The `orders` table
(8 columns: bigint, text, numeric(12,2), timestamptz) is created once per row count in schema /
database `bench_<rows>` and reused. For each contender: wall seconds, rows/s, CPU seconds (user +
sys of every process) per million rows, peak RSS of the largest process, and wall ratio to our
fast path.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.proc_tree import Figures, measure  # noqa: E402
from tests import services  # noqa: E402

BIN = Path(sys.executable).parent
DLT_PYTHON = REPO / "benchmarks" / ".dlt-venv" / "bin" / "python"

COLUMNS = {
    "order_id": {"type": "integer"},
    "customer_id": {"type": ["integer", "null"]},
    "status": {"type": ["string", "null"]},
    "amount": {"type": ["number", "null"], "multipleOf": 0.01, "maximum": 9999999999.99},
    "currency": {"type": ["string", "null"]},
    "note": {"type": ["string", "null"]},
    "created_at": {"type": ["string", "null"], "format": "date-time"},
    "updated_at": {"type": ["string", "null"], "format": "date-time"},
}


def _prepare_postgres(rows: int) -> str:
    import psycopg2

    schema = f"bench_{rows}"
    connection = psycopg2.connect(services.postgres().dsn)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (schema,))
        if cursor.fetchone()[0] == 0:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            cursor.execute(
                f"CREATE TABLE {schema}.orders AS SELECT g::bigint AS order_id, (g % 50000)::bigint AS "
                "customer_id, (ARRAY['new','paid','shipped','refunded'])[1 + g % 4] AS status, "
                "round((g % 100000) / 7.0, 2)::numeric(12,2) AS amount, 'USD'::text AS currency, "
                "md5(g::text) AS note, timestamptz '2024-01-01' + g * interval '1 second' AS created_at, "
                "timestamptz '2024-01-01' + g * interval '2 second' AS updated_at "
                f"FROM generate_series(1, {rows}) g"
            )
            cursor.execute(f"ALTER TABLE {schema}.orders ADD PRIMARY KEY (order_id)")
    connection.close()
    return schema


def _prepare_mariadb(rows: int) -> str:
    database = f"bench_{rows}"
    connection = services.mariadb().connect()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name = 'orders'",
            (database,),
        )
        if cursor.fetchone()[0] == 0:
            cursor.execute(
                f"CREATE TABLE {database}.orders (order_id bigint PRIMARY KEY, customer_id bigint, "
                "status varchar(20), amount decimal(12,2), currency char(3), note varchar(64), "
                "created_at timestamp(6) NULL, updated_at timestamp(6) NULL)"
            )
            cursor.execute(
                f"INSERT INTO {database}.orders SELECT seq, seq % 50000, ELT(1 + seq % 4, 'new', 'paid', "
                "'shipped', 'refunded'), round((seq % 100000) / 7.0, 2), 'USD', md5(seq), "
                "timestamp'2024-01-01 00:00:00' + interval seq second, "
                "timestamp'2024-01-01 00:00:00' + interval 2 * seq second "
                f"FROM seq_1_to_{rows}"
            )
    connection.close()
    return database


def _tap_config(db: str, schema: str) -> dict[str, Any]:
    if db == "postgres":
        pg = services.postgres()
        return {
            "host": pg.host,
            "port": pg.port,
            "user": pg.user,
            "database": pg.db,
            "tables": {"orders": f"{schema}.orders"},
        }
    my = services.mariadb()
    return {
        "host": my.host,
        "port": my.port,
        "user": my.user,
        "database": schema,
        "tables": {"orders": f"{schema}.orders"},
    }


def _catalog() -> dict[str, Any]:
    schema = {"type": "object", "properties": COLUMNS, "required": ["order_id"]}
    metadata = [{"breadcrumb": [], "metadata": {"selected": True, "table-key-properties": ["order_id"]}}]
    return {
        "streams": [
            {
                "tap_stream_id": "orders",
                "stream": "orders",
                "key_properties": ["order_id"],
                "schema": schema,
                "metadata": metadata,
            }
        ]
    }


def _measure(command: str, cwd: Path, name: str) -> Figures:
    """Run a shell pipeline: wall, CPU seconds of every process of it, peak summed RSS of the
    tree (runner/tap/target together) and of its largest process."""
    return measure(command, cwd, cwd / f"{name}.log")


def _ours(db: str, schema: str, work: Path, fast: bool, rows: int) -> Figures:
    tag = "fast" if fast else "record"
    config = _tap_config(db, schema)
    if fast:
        config["batch_config"] = {
            "encoding": {"format": "parquet"},
            "batch_size": 250_000,
            "storage": {"root": (work / f"batches-{tag}").as_uri()},
        }
    (work / f"tap-{tag}.json").write_text(json.dumps(config))
    (work / "catalog.json").write_text(json.dumps(_catalog()))
    warehouse = work / f"wh-{tag}"
    (work / f"target-{tag}.json").write_text(json.dumps({"warehouse_dir": str(warehouse), "namespace": tag}))
    tap = BIN / ("tap-postgres" if db == "postgres" else "tap-mysql")
    command = (
        f"{tap} --config tap-{tag}.json --catalog catalog.json 2>tap-{tag}.log | "
        f"{BIN / 'target-iceberg'} --config target-{tag}.json >/dev/null 2>target-{tag}.log"
    )
    figures = _measure(command, work, f"pipe-{tag}")
    from target_iceberg.catalog import open_catalog

    table = open_catalog({"warehouse_dir": str(warehouse)}).load_table(f"{tag}.orders")
    landed = len(table.scan(selected_fields=("order_id",)).to_arrow())
    if landed != rows:
        raise RuntimeError(f"{tag} path landed {landed} rows of {rows} (see {work}/target-{tag}.log)")
    shutil.rmtree(warehouse, ignore_errors=True)
    shutil.rmtree(work / f"batches-{tag}", ignore_errors=True)
    return figures


BENCH_ASSET = """asset:
  name: bench_orders
  source_type: {source}
  object: orders
  version: "1.0"
  primary_key: [order_id]
  schema:
    - {{name: order_id, type: integer, required: true}}
    - {{name: customer_id, type: integer}}
    - {{name: status, type: string}}
    - {{name: amount, type: "decimal(12,2)"}}
    - {{name: currency, type: string}}
    - {{name: note, type: string}}
    - {{name: created_at, type: timestamp}}
    - {{name: updated_at, type: timestamp}}
  governance: {{owner: bench@example.com}}
"""


def _dativo_home(db: str, schema: str, work: Path) -> tuple[Path, Path]:
    """A project home with the repo's registry and connectors, a bench asset (unpartitioned, no
    column policy) and a full-table job over ``schema.orders``."""
    source = "postgres" if db == "postgres" else "mysql"
    home = work / f"home-{db}"
    shutil.rmtree(home, ignore_errors=True)
    for folder in ("registry", "connectors"):
        shutil.copytree(REPO / folder, home / folder)
    asset = home / "assets" / source / "v1.0" / "bench_orders.yaml"
    asset.parent.mkdir(parents=True)
    asset.write_text(BENCH_ASSET.format(source=source))
    connection = {k: v for k, v in _tap_config(db, schema).items() if k != "tables"}
    job = {
        "tenant_id": "bench",
        "source_connector": source,
        "source_connector_path": f"connectors/sources/{source}.yaml",
        "target_connector": "iceberg",
        "target_connector_path": "connectors/targets/iceberg.yaml",
        "asset": "bench_orders",
        "asset_path": str(asset.relative_to(home)),
        "source": {"objects": [f"{schema}.orders"], "connection": connection},
        "target": {},
    }
    path = home / "jobs" / "bench" / "orders.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(job))  # JSON is YAML
    return home, path


def _dativo_run(db: str, schema: str, work: Path, rows: int) -> Figures:
    """`dativo run` of the job: runner + tap + target, the fast path by default."""
    home, job = _dativo_home(db, schema, work)
    command = f"{BIN / 'dativo'} run --config {job} --home {home} >/dev/null"
    figures = _measure(command, work, f"dativo-{db}")
    from target_iceberg.catalog import open_catalog

    table = open_catalog({"warehouse_dir": str(home / "warehouse")}).load_table("bench.bench_orders")
    landed = len(table.scan(selected_fields=("order_id",)).to_arrow())
    if landed != rows:
        raise RuntimeError(f"dativo run landed {landed} rows of {rows} (see {work}/dativo-{db}.log)")
    shutil.rmtree(home, ignore_errors=True)
    return figures


def _floor(db: str, schema: str, work: Path) -> Figures:
    if db == "postgres":
        pg = services.postgres()
        uri = f"postgresql://{pg.user}@{pg.host}:{pg.port}/{pg.db}"
    else:
        my = services.mariadb()
        uri = f"mysql://{my.user}@{my.host}:{my.port}/{schema}"
    amount = "amount::text AS amount" if db == "postgres" else "CAST(amount AS CHAR) AS amount"
    code = (
        "import connectorx as cx, pyarrow.parquet as pq;"
        f"t = cx.read_sql({uri!r}, 'SELECT order_id, customer_id, status, {amount}, currency, note, "
        f"created_at, updated_at FROM {schema}.orders', return_type='arrow');"
        "pq.write_table(t, 'floor.parquet')"
    )
    return _measure(f"{sys.executable} -c {json.dumps(code)}", work, "floor")


def _peer_record(schema: str, work: Path, rows: int, peers: Path) -> Figures | None:
    """MeltanoLabs tap-postgres | target-csv (singer-sdk programs, RECORD messages), from their
    venvs under ``peers`` (scripts/peers.sh install); None when they are not installed."""
    tap, target = peers / "tap-postgres/bin/tap-postgres", peers / "target-csv/bin/target-csv"
    if not (tap.exists() and target.exists()):
        return None
    pg = services.postgres()
    config = {
        "host": pg.host,
        "port": pg.port,
        "user": pg.user,
        "password": "unused",
        "database": pg.db,
        "filter_schemas": [schema],
    }
    (work / "peer-tap.json").write_text(json.dumps(config))
    # The peers' own venvs: a PYTHONPATH naming this repo's taps (a worktree's) would shadow their
    # ``tap_postgres`` package with ours.
    own = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    discovered = subprocess.run(
        [tap, "--config", "peer-tap.json", "--discover"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
        env=own,
    )
    catalog = json.loads(discovered.stdout)
    catalog["streams"] = [s for s in catalog["streams"] if s["tap_stream_id"] == f"{schema}-orders"]
    for entry in catalog["streams"][0]["metadata"]:
        entry["metadata"]["selected"] = True
    (work / "peer-catalog.json").write_text(json.dumps(catalog))
    out = work / "peer-csv"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    (work / "peer-target.json").write_text(json.dumps({"output_path": str(out)}))
    figures = _measure(
        f"env -u PYTHONPATH {tap} --config peer-tap.json --catalog peer-catalog.json | "
        f"env -u PYTHONPATH {target} --config peer-target.json >/dev/null",
        work,
        "peer-record",
    )
    landed = sum(max(0, sum(1 for _ in f.open()) - 1) for f in out.glob("*.csv"))
    if landed != rows:
        raise RuntimeError(f"peer pipe landed {landed} rows of {rows} (see {work}/peer-record.log)")
    shutil.rmtree(out, ignore_errors=True)
    return figures


def _dlt(db: str, schema: str, work: Path, backend: str) -> Figures | None:
    if not DLT_PYTHON.exists() or subprocess.run([DLT_PYTHON, "-c", "import dlt"], check=False).returncode:
        return None
    if db == "postgres":
        pg = services.postgres()
        url = f"postgresql+psycopg2://{pg.user}@{pg.host}:{pg.port}/{pg.db}"
    else:
        my = services.mariadb()
        url = f"mysql+pymysql://{my.user}@{my.host}:{my.port}/{schema}"
    code = (
        "import dlt; from dlt.sources.sql_database import sql_table;"
        f"t = sql_table(credentials={url!r}, table='orders', schema={schema!r}, backend={backend!r});"
        f"p = dlt.pipeline(pipeline_name='bench_{backend}', destination=dlt.destinations.filesystem("
        f"{(work / ('dlt-' + backend)).as_uri()!r}), dataset_name='d', "
        f"pipelines_dir={str(work / 'dlt-pipes')!r});"
        "p.run(t, table_format='iceberg', write_disposition='append')"
    )
    return _measure(f"{DLT_PYTHON} -c {json.dumps(code)}", work, f"dlt-{backend}")


def _median(runs: list[Figures]) -> Figures:
    """The run with the median wall time."""
    return sorted(runs, key=lambda f: f.wall)[len(runs) // 2]


RECORD_GOAL = 20.0  # the RECORD pipe against the singer-sdk pipe, CPU and wall (issue #27)
RECORD_RUNS: list[tuple[Figures, float]] = []  # every run of our RECORD pipe, with the load before it


def _our_record_runs(db: str, schema: str, work: Path, rows: int, times: int) -> Figures:
    """Our RECORD pipe ``times`` times in a row (its median wall), each run kept for the report."""
    runs = []
    for _ in range(times):
        load = os.getloadavg()[0]
        runs.append(_ours(db, schema, work, False, rows))
        RECORD_RUNS.append((runs[-1], load))
    return _median(runs)


def _record_goal(record: Figures, peer: Figures) -> None:
    """Each of our RECORD runs and their median against the peer, with the goal and PASS/MISS."""
    for figures, load in RECORD_RUNS:
        print(f"  ours RECORD run: wall {figures.wall:.2f} s, CPU {figures.cpu:.2f} s (load {load:.1f})")
    worst_cpu = max(f.cpu for f, _ in RECORD_RUNS) if RECORD_RUNS else record.cpu
    for what, ours, theirs in (("CPU", record.cpu, peer.cpu), ("wall", record.wall, peer.wall)):
        ratio = theirs / ours
        verdict = "PASS" if ratio >= RECORD_GOAL else "MISS"
        print(
            f"RECORD path {what}: ours {ours:.2f} s, singer-sdk pipe {theirs:.2f} s, "
            f"{ratio:.1f}x (goal >= {RECORD_GOAL:.0f}x) {verdict}"
        )
    print(f"RECORD path CPU, our slowest run: {peer.cpu / worst_cpu:.1f}x")


def _contenders(
    db: str, schema: str, work: Path, args: argparse.Namespace
) -> dict[str, Callable[[], Figures | None]]:
    """What runs, by name, in the order it runs in each round."""
    rows = args.rows
    contenders: dict[str, Callable[[], Figures | None]] = {}
    if not args.only_record:
        contenders["ours fast path"] = lambda: _ours(db, schema, work, True, rows)
    if args.only_fast:
        return contenders
    if not args.only_record:
        contenders["dativo run (fast path)"] = lambda: _dativo_run(db, schema, work, rows)
    if not args.skip_record:
        contenders["ours RECORD path"] = lambda: _our_record_runs(db, schema, work, rows, args.ours_repeat)
        if db == "postgres" and not args.skip_peer:
            contenders["MeltanoLabs tap-postgres | target-csv"] = lambda: _peer_record(
                schema, work, rows, args.peers
            )
    if args.only_record:
        return contenders
    contenders["connectorx + Parquet (floor)"] = lambda: _floor(db, schema, work)
    if not args.skip_dlt:
        contenders["dlt sql_table connectorx → Iceberg"] = lambda: _dlt(db, schema, work, "connectorx")
        contenders["dlt sql_table pyarrow → Iceberg"] = lambda: _dlt(db, schema, work, "pyarrow")
    return contenders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("postgres", "mariadb", "both"), default="both")
    parser.add_argument("--skip-record", action="store_true", help="skip both RECORD pipes (slow)")
    parser.add_argument("--skip-peer", action="store_true", help="skip MeltanoLabs tap-postgres | target-csv")
    parser.add_argument("--skip-dlt", action="store_true", help="skip dlt even when installed")
    parser.add_argument("--only-fast", action="store_true", help="our fast path alone (memory at 10M)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (the median wall is shown)")
    parser.add_argument(
        "--only-record", action="store_true", help="our RECORD pipe and the singer-sdk pipe alone"
    )
    parser.add_argument(
        "--ours-repeat", type=int, default=1, help="runs of our RECORD pipe before the peer in each round"
    )
    parser.add_argument(
        "--peers", type=Path, default=Path(os.environ.get("DATIVO_PEERS_DIR") or REPO / ".peers")
    )
    args = parser.parse_args()
    for db in ("postgres", "mariadb") if args.db == "both" else (args.db,):
        services.ensure_up(db)
        schema = _prepare_postgres(args.rows) if db == "postgres" else _prepare_mariadb(args.rows)
        work = Path(tempfile.mkdtemp(prefix=f"dbbench-{db}-"))
        contenders = _contenders(db, schema, work, args)
        load = os.getloadavg()
        runs: dict[str, list[Figures | None]] = {name: [] for name in contenders}
        for _ in range(args.repeat):  # rounds: every contender sees the same load
            for name, run in contenders.items():
                runs[name].append(run())
        results = {
            name: _median([f for f in found if f is not None]) if all(found) else None
            for name, found in runs.items()
        }
        ours = results.get("ours fast path") or next(f for f in results.values() if f is not None)
        print(
            f"\n{db}, {args.rows:,} rows x 8 columns; load average {load[0]:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after; median of {args.repeat}"
        )
        print(
            f"{'contender':40} {'wall s':>8} {'rows/s':>10} {'CPU s':>7} {'rows/CPU-s':>10} "
            f"{'tree MB':>8} {'max MB':>7} {'x ours':>7}"
        )
        for name, figures in results.items():
            if figures is None:
                print(f"{name:40} (not installed)")
                continue
            print(
                f"{name:40} {figures.wall:8.2f} {args.rows / figures.wall:10,.0f} {figures.cpu:7.2f} "
                f"{args.rows / figures.cpu:10,.0f} {figures.tree_mb:8.0f} {figures.largest_mb:7.0f} "
                f"{figures.wall / ours.wall:7.2f}"
            )
        record, peer = results.get("ours RECORD path"), results.get("MeltanoLabs tap-postgres | target-csv")
        if record is not None and peer is not None:
            _record_goal(record, peer)
        floor = results.get("connectorx + Parquet (floor)")
        if floor is not None and "ours fast path" in results:
            print(
                f"fast path / floor: wall {ours.wall / floor.wall:.2f}x (goal <= 2x), "
                f"CPU {ours.cpu / floor.cpu:.2f}x; fast path {args.rows / ours.cpu:,.0f} rows per CPU-s "
                "(goal >= 300,000)"
            )
        shutil.rmtree(work, ignore_errors=True)
    os.environ.pop("DATIVO_HOME", None)


if __name__ == "__main__":
    main()
