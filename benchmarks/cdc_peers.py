"""The contenders of benchmarks/cdc_peers_bench.py, each one table's log-based reader and writer
with its own replication slot: ``snapshot()`` (the initial load), ``apply()`` (the changes made
since), both measured as process trees; ``result()`` the rows it holds at the end, as an Arrow
table of ``id, status, amount, note``; ``close()`` drops its slot and publication."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv
import pyarrow.parquet as pq

from benchmarks.proc_tree import Figures, measure

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]
COLUMNS = ["id", "status", "amount", "note"]
# The peers run from their own venvs: a PYTHONPATH naming this repo's taps would shadow their
# ``tap_postgres`` package with ours.
NO_PATH = "env -u PYTHONPATH"

ASSET = """asset:
  name: {name}
  source_type: postgres
  object: items
  version: "1.0"
  primary_key: [id]
  schema:
    - {{name: id, type: integer, required: true}}
    - {{name: status, type: string}}
    - {{name: amount, type: "decimal(12,2)"}}
    - {{name: note, type: string}}
    - {{name: stamped, type: timestamp}}
  governance: {{owner: bench@example.com}}
"""


class Contender(Protocol):
    """What the benchmark asks of each contender."""

    name: str
    slot: str

    def snapshot(self) -> Figures: ...
    def apply(self) -> Figures: ...
    def result(self) -> pa.Table: ...
    def close(self, cursor: Any) -> None: ...


class SlotBackendCPU:
    """CPU seconds of the PostgreSQL backends that hold ``slot`` while it runs (the walsender of a
    replication connection, or the backend of a ``pg_logical_slot_*`` call: where the log is
    decoded), sampled every 0.1 s from /proc; a backend's last 0.1 s may be missed."""

    def __init__(self, dsn: str, slot: str) -> None:
        import psycopg2

        self.connection = psycopg2.connect(dsn)
        self.connection.autocommit = True
        self.slot, self.ticks = slot, os.sysconf("SC_CLK_TCK")
        self.seen: dict[int, int] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        with self.connection.cursor() as cursor:
            while not self.done.wait(0.1):
                cursor.execute(
                    "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (self.slot,)
                )
                row = cursor.fetchone()
                if row and row[0]:
                    try:
                        with open(f"/proc/{row[0]}/stat") as handle:
                            fields = handle.read().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    self.seen[row[0]] = max(self.seen.get(row[0], 0), int(fields[11]) + int(fields[12]))

    def __enter__(self) -> SlotBackendCPU:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join()
        self.connection.close()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values()) / self.ticks


def drop_slot(cursor: Any, slot: str) -> None:
    """Drop a replication slot and the publication of the same name, when they exist."""
    cursor.execute(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
        (slot,),
    )
    cursor.execute(f'DROP PUBLICATION IF EXISTS "{slot}"')


class Ours:
    """`dativo run` of a `log_based` postgres job into target-iceberg on the REST catalog."""

    name = "dativo run (log_based → Iceberg REST)"

    def __init__(self, pg: Any, sw: Any, schema: str, work: Path, slot: str) -> None:
        self.work, self.slot, self.sw = work, slot, sw
        self.home = work / "home"
        for folder in ("registry", "connectors"):
            shutil.copytree(REPO / folder, self.home / folder)
        asset = self.home / "assets/postgres/v1.0/items.yaml"
        asset.parent.mkdir(parents=True)
        asset.write_text(ASSET.format(name=f"items_{slot}"))
        self.identifier = f"bench_cdcpeers.items_{slot}"
        s3 = {"endpoint": sw.s3_endpoint, "region": sw.region, "access_key_id": sw.access_key}
        s3["secret_access_key"] = sw.secret_key
        job = {
            "tenant_id": "bench",
            "source_connector": "postgres",
            "source_connector_path": "connectors/sources/postgres.yaml",
            "target_connector": "iceberg",
            "target_connector_path": "connectors/targets/iceberg.yaml",
            "asset": f"items_{slot}",
            "asset_path": str(asset.relative_to(self.home)),
            "source": {
                "objects": [f"{schema}.items"],
                "connection": {"host": pg.host, "port": pg.port, "user": pg.user, "database": pg.db},
                "incremental": {"strategy": "log_based", "slot": slot, "publication": slot},
            },
            "target": {
                "namespace": "bench_cdcpeers",
                "warehouse": sw.rest_warehouse,
                "connection": {"rest": {"uri": sw.rest_uri, "credential": sw.rest_credential}, "s3": s3},
            },
        }
        self.job = self.home / "jobs/bench/items.yaml"
        self.job.parent.mkdir(parents=True)
        self.job.write_text(json.dumps(job))  # JSON is YAML

    def _run(self, log: str) -> Figures:
        command = f"{BIN / 'dativo'} run --config {self.job} --home {self.home} >/dev/null"
        return measure(command, self.work, self.work / log)

    def snapshot(self) -> Figures:
        return self._run("ours-snapshot.log")

    def apply(self) -> Figures:
        return self._run("ours-apply.log")

    def result(self) -> pa.Table:
        from pyiceberg.catalog import load_catalog

        sw = self.sw
        props = {"uri": sw.rest_uri, "credential": sw.rest_credential, "warehouse": sw.rest_warehouse}
        catalog = load_catalog("rest", type="rest", **props, **sw.s3_props())
        return catalog.load_table(self.identifier).scan(selected_fields=tuple(COLUMNS)).to_arrow()

    def close(self, cursor: Any) -> None:
        drop_slot(cursor, self.slot)
        from pyiceberg.catalog import load_catalog

        sw = self.sw
        props = {"uri": sw.rest_uri, "credential": sw.rest_credential, "warehouse": sw.rest_warehouse}
        catalog = load_catalog("rest", type="rest", **props, **sw.s3_props())
        if catalog.table_exists(self.identifier):
            catalog.purge_table(self.identifier)


class SingerPeer:
    """MeltanoLabs tap-postgres (LOG_BASED, wal2json) | MeltanoLabs target-csv. The package
    index has no Singer Iceberg target, so the change records land as CSV files and the table is
    rebuilt from them (per key the last record, dropped when it is a delete)."""

    name = "tap-postgres LOG_BASED | target-csv"

    def __init__(self, pg: Any, schema: str, work: Path, slot: str, peers: Path, idle: int) -> None:
        self.work, self.slot, self.schema = work, slot, schema
        self.tap = peers / "tap-postgres/bin/tap-postgres"
        self.target = peers / "target-csv/bin/target-csv"
        config = {
            "host": pg.host,
            "port": pg.port,
            "user": pg.user,
            "password": "unused",  # trust authentication; the tap wants one
            "database": pg.db,
            "filter_schemas": [schema],
            "replication_slot_name": slot,
            "replication_idle_exit_seconds": idle,
            "replication_max_run_seconds": 3600,  # its default, 600, ends a long backlog half-way
            "log_based_single_connection": True,
            "auto_bootstrap_log_based": True,  # the tap's own initial FULL_TABLE load
        }
        (work / "peer-tap.json").write_text(json.dumps(config))
        self.outputs: list[Path] = []

    def _catalog(self) -> None:
        found = subprocess.run(
            f"{NO_PATH} {self.tap} --config peer-tap.json --discover",
            shell=True,
            cwd=self.work,
            capture_output=True,
            text=True,
            check=True,
        )
        catalog = json.loads(found.stdout)
        streams = [s for s in catalog["streams"] if s["tap_stream_id"] == f"{self.schema}-items"]
        for stream in streams:  # what Meltano's `metadata: {replication_method: LOG_BASED}` writes
            stream["replication_method"], stream["replication_key"] = "LOG_BASED", "_sdc_lsn"
            for entry in stream["metadata"]:
                entry["metadata"]["selected"] = True
                if not entry["breadcrumb"]:
                    entry["metadata"]["replication-method"] = "LOG_BASED"
                    entry["metadata"]["replication-key"] = "_sdc_lsn"
        (self.work / "peer-catalog.json").write_text(json.dumps({"streams": streams}))

    def _run(self, phase: str) -> Figures:
        out = self.work / f"peer-{phase}"
        out.mkdir()
        self.outputs.append(out)
        # singer-sdk targets drop `_sdc_deleted_at` (and every `_sdc_` column) unless asked to keep
        # the record metadata: without it a delete lands as a row of nulls.
        target = {"output_path": str(out), "add_record_metadata": True}
        (self.work / f"peer-target-{phase}.json").write_text(json.dumps(target))
        state = "--state peer-state.json" if (self.work / "peer-state.json").exists() else ""
        command = (
            f"{NO_PATH} {self.tap} --config peer-tap.json --catalog peer-catalog.json {state} | "
            f"{NO_PATH} {self.target} --config peer-target-{phase}.json > peer-states-{phase}.jsonl"
        )
        figures = measure(command, self.work, self.work / f"peer-{phase}.log")
        lines = (self.work / f"peer-states-{phase}.jsonl").read_text().splitlines()
        if lines:
            (self.work / "peer-state.json").write_text(json.dumps(json.loads(lines[-1])))
        return figures

    def snapshot(self) -> Figures:
        self._catalog()
        return self._run("snapshot")

    def apply(self) -> Figures:
        return self._run("apply")

    def changes(self) -> pa.Table:
        """Every record the target wrote, snapshot first then the changes, in file order."""
        text = pa.string()
        types = {"id": pa.int64(), "status": text, "amount": text, "note": text, "_sdc_deleted_at": text}
        options = pv.ConvertOptions(
            column_types=types, include_columns=[*COLUMNS, "_sdc_deleted_at"], include_missing_columns=True
        )
        paths = [path for out in self.outputs for path in sorted(out.glob("*.csv"))]
        tables = [pv.read_csv(path, convert_options=options) for path in paths]
        records = pa.concat_tables(tables)
        return records.append_column("_order", pa.array(range(records.num_rows), pa.int64()))

    def result(self) -> pa.Table:
        records = self.changes()
        last = records.group_by("id").aggregate([("_order", "max")]).column("_order_max")
        rows = records.take(last)
        rows = rows.filter(pc.or_(pc.is_null(rows["_sdc_deleted_at"]), pc.equal(rows["_sdc_deleted_at"], "")))
        return rows.select(COLUMNS)

    def close(self, cursor: Any) -> None:
        drop_slot(cursor, self.slot)


DLT_SCRIPT = """
import json, sys
phase, sources, dsn, schema, slot, bucket, pipelines, dump = sys.argv[1:]
sys.path.insert(0, sources)
import dlt
from dlt.sources.credentials import ConnectionStringCredentials
from pg_replication import replication_resource
from pg_replication.helpers import init_replication

credentials = ConnectionStringCredentials(dsn)
pipeline = dlt.pipeline(pipeline_name="cdc_peers", destination=dlt.destinations.filesystem(bucket),
                        dataset_name="d", pipelines_dir=pipelines)
if phase == "snapshot":
    # The change columns from the start: dlt does not add them to the Iceberg table when the first
    # changes are merged ("Target schema's field names are not matching the table's").
    change_columns = {"lsn": {"data_type": "bigint", "nullable": True, "dedup_sort": "desc"},
                      "deleted_ts": {"data_type": "timestamp", "nullable": True, "hard_delete": True}}
    data = init_replication(slot_name=slot, pub_name=slot, schema_name=schema, table_names="items",
                            credentials=credentials, persist_snapshots=True,
                            columns={"items": change_columns})
elif phase == "apply":
    data = replication_resource(slot, slot, credentials=credentials)
if phase in ("snapshot", "apply"):
    info = pipeline.run(data, table_format="iceberg")
    print(info, file=sys.stderr)
else:
    from dlt.common.libs.pyiceberg import get_iceberg_tables
    import pyarrow.parquet as pq
    table = get_iceberg_tables(pipeline, "items")["items"]
    columns = ("id", "status", "amount", "note", "deleted_ts")
    pq.write_table(table.scan(selected_fields=columns).to_arrow(), dump)
"""


class DltPeer:
    """dlt's verified ``pg_replication`` source (pgoutput) into dlt's filesystem destination
    with ``table_format="iceberg"`` (a local folder)."""

    name = "dlt pg_replication → Iceberg (filesystem)"
    deleted_column = "deleted_ts"  # dlt's Iceberg upsert keeps deleted rows with this set

    def __init__(self, pg: Any, schema: str, work: Path, slot: str, python: Path, sources: Path) -> None:
        self.work, self.slot, self.python = work, slot, python
        (work / "dlt_cdc.py").write_text(DLT_SCRIPT)
        dsn = f"postgresql://{pg.user}@{pg.host}:{pg.port}/{pg.db}"
        bucket = (work / "dlt-lake").as_uri()
        self.args = f"{sources} {dsn} {schema} {slot} {bucket} {work / 'dlt-pipes'} {work / 'dlt.parquet'}"
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def _run(self, phase: str) -> Figures:
        command = f"{NO_PATH} {self.python} dlt_cdc.py {phase} {self.args}"
        return measure(command, self.work, self.work / f"dlt-{phase}.log")

    def snapshot(self) -> Figures:
        return self._run("snapshot")

    def apply(self) -> Figures:
        return self._run("apply")

    def result(self) -> pa.Table:
        self._run("dump")
        return pq.read_table(self.work / "dlt.parquet")

    def close(self, cursor: Any) -> None:
        drop_slot(cursor, self.slot)
