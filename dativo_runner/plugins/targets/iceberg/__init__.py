"""The ``iceberg`` target: target-iceberg config, committed bookmarks, show and maintain.

Everything Iceberg-specific the runner needs is here; target_iceberg and pyiceberg are imported
only inside methods, when a job that uses this target asks for them.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sqlite3
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dativo_runner.errors import DativoError, Problem
from dativo_runner.plugins.base import Landed, MaintainOptions, TargetCapabilities, TargetPlugin
from dativo_runner.plugins.targets.governance import dead_letter_dir
from dativo_runner.plugins.targets.iceberg.planning import plan_iceberg_config
from dativo_runner.tenancy import name_problem, recorded_owner_problem

if TYPE_CHECKING:
    from pyiceberg.table import Table
    from target_iceberg.local_metadata import LocalTable

    from dativo_runner.job_config import Job


def table_identifier(config: dict[str, Any], stream: str) -> str:
    """``namespace.table`` of a stream, named as target-iceberg names it."""
    from target_iceberg.naming import table_name_for

    return f"{config.get('namespace') or 'default'}.{table_name_for(stream, config)}"


class IcebergTarget(TargetPlugin):
    """Apache Iceberg tables in any pyiceberg catalog (embedded SQLite + local files by default)."""

    job_schema = "targets/iceberg"
    capabilities = TargetCapabilities(
        write_modes=("append", "merge", "overwrite"),
        replace_modes=("overwrite",),
        merge=True,
        bookmarks_with_data=True,
    )

    def check(self, job: Job) -> list[Problem]:
        """Partitioning names known columns and transforms; the dead-letter folder can be made."""
        from target_iceberg.partitioning import INGEST_DATE, parse_partitioning

        from dativo_singer.errors import FatalError

        problems = []
        columns = {f.name for f in job.asset.fields} | {INGEST_DATE}
        try:
            fields = parse_partitioning(list(job.asset.target.partitioning))
        except FatalError as exc:
            problems.append(Problem(job.asset.file, "asset.target.partitioning", str(exc)))
            fields = []
        for field in fields:
            if field.source not in columns:
                problems.append(
                    Problem(
                        job.asset.file,
                        "asset.target.partitioning",
                        f"{field.source!r} is not a column of the asset",
                    )
                )
        problems.extend(_moved_warehouse(job, plan_iceberg_config(job)))
        namespace = str(job.target.get("namespace") or job.tenant_id)
        problem = name_problem(namespace, job.tenant_id, job.home, "default namespace")
        if problem:
            problems.append(Problem(job.file, "target.namespace", problem))
        blocked = _blocking_file(dead_letter_dir(job))
        if blocked is not None:
            problems.append(
                Problem(job.file, "target", f"dead-letter folder cannot be made: {blocked} is a file")
            )
        return problems

    def plan_config(self, job: Job) -> dict[str, Any]:
        """The target-iceberg config; the embedded catalog's folder is created here (run time)."""
        config = plan_iceberg_config(job)
        uri = str((config.get("catalog") or {}).get("uri") or "")
        folders = [Path(uri.removeprefix("sqlite:///")).parent] if uri.startswith("sqlite:///") else []
        if not config.get("catalog"):
            folders.append(Path(config["warehouse_dir"]))
        for folder in folders:
            problem = _unwritable(folder)
            if problem:
                raise DativoError([Problem(job.file, "target", f"warehouse folder {folder} {problem}")])
        return config

    def location(self, job: Job, config: dict[str, Any], stream: str) -> str:
        """The table identifier."""
        return table_identifier(config, stream)

    def _table(self, job: Job, config: dict[str, Any], stream: str) -> Table | None:
        from target_iceberg.tables import load_table_or_none

        if not config.get("catalog") and not (Path(config["warehouse_dir"]) / "catalog.db").exists():
            return None  # the embedded catalog is made by the first run: nothing landed yet
        from target_iceberg.catalog import open_catalog

        table = load_table_or_none(open_catalog(config), table_identifier(config, stream))
        _check_owner(job, config, stream, table.properties if table is not None else None)
        return table

    def _local_table(self, config: dict[str, Any], stream: str) -> tuple[bool, LocalTable | None]:
        """``(True, table or None)`` read from the embedded catalog without pyiceberg (its import
        is most of a run's fixed cost in the runner); ``(False, None)`` when the table lives in
        another catalog, or this reader cannot tell (then pyiceberg answers)."""
        if config.get("catalog"):
            return False, None
        from target_iceberg.local_metadata import Unreadable, load_local_table

        try:
            return True, load_local_table(config["warehouse_dir"], table_identifier(config, stream))
        except Unreadable:
            return False, None

    def committed_bookmark(self, job: Job, config: dict[str, Any], stream: str) -> dict[str, Any] | None:
        """The state in the newest snapshot summary (of the configured branch) that has one:
        under ``dativo.singer-state``, or the partition's own property for a partition's run."""
        import json

        from target_iceberg.local_metadata import state_key

        key = state_key(config.get("partition"))
        local, found_table = self._local_table(config, stream)
        text: str | None = None
        if local:
            _check_owner(job, config, stream, found_table.metadata.get("properties") if found_table else None)
            found = found_table.latest_bookmark(config.get("branch"), key) if found_table else None
            text = found[0] if found else None
        else:
            from target_iceberg.bookmark import latest_bookmark

            table = self._table(job, config, stream)
            committed = latest_bookmark(table, config.get("branch"), key) if table is not None else None
            text = committed[0] if committed else None
        if text is None:
            return None
        state = json.loads(text)
        return state if isinstance(state, dict) else None

    def bookmark_check(
        self, config: dict[str, Any], stream: str, committed: dict[str, Any] | None
    ) -> dict[str, Any]:
        """``bookmark_at_start``: target-iceberg's compare-and-swap on the table's bookmark. On a
        branch the target reads it as it starts (a branch not made yet holds main's bookmark)."""
        if config.get("branch") not in (None, "", "main"):
            return {}
        return {"bookmark_at_start": {stream: committed}}

    def landed(self, job: Job, config: dict[str, Any], stream: str) -> Landed | None:
        """The table's snapshot at the head of the configured branch."""
        local, found_table = self._local_table(config, stream)
        if local:
            if found_table is None:
                return None
            _check_owner(job, config, stream, found_table.metadata.get("properties"))
            head = found_table.branch_head(config.get("branch"))
            total = ((head or {}).get("summary") or {}).get("total-records")
            return Landed(
                location=table_identifier(config, stream),
                commit_id=head["snapshot-id"] if head else None,
                metadata_location=found_table.metadata_location,
                table_rows=int(total) if total is not None else None,
            )
        from target_iceberg.tables import branch_head, snapshot_total_rows

        table = self._table(job, config, stream)
        if table is None:
            return None
        snapshot = branch_head(table, config.get("branch"))
        return Landed(
            location=table_identifier(config, stream),
            commit_id=snapshot.snapshot_id if snapshot else None,
            metadata_location=table.metadata_location,
            table_rows=snapshot_total_rows(snapshot),
        )

    def _existing_table(self, job: Job) -> tuple[Table, str]:
        from dativo_singer.errors import DativoSingerError

        config = plan_iceberg_config(job)
        identifier = table_identifier(config, job.asset.object)
        try:
            table = self._table(job, config, job.asset.object)
        except DativoSingerError as exc:
            raise DativoError([Problem(job.file, "target", str(exc))]) from None
        if table is None:
            message = f"table {identifier} not found in the Iceberg catalog (run the job first)"
            raise DativoError([Problem(job.file, "target", message)])
        return table, identifier

    def read_config(self, job: Job) -> dict[str, Any]:
        """The target-iceberg config, creating no folder."""
        return plan_iceberg_config(job)

    def reread_duplicates(self, job: Job, config: dict[str, Any]) -> str | None:
        """Rows read again merge by key in ``merge`` mode and are replaced in ``overwrite``
        mode; ``append`` adds them again."""
        mode = write_mode(job, config)
        if mode in ("merge", "overwrite"):
            return None
        keys = ", ".join(job.asset.primary_key)
        why = "write_mode append" + (
            f"; target.write_mode merge would merge on {keys}" if keys else ", no primary key to merge on"
        )
        return (
            f"{table_identifier(config, job.asset.object)} appends ({why}): reading the source "
            "again from the start would land the rows already there a second time"
        )

    def inspect(self, job: Job, limit: int) -> dict[str, Any]:
        """Location, schema, partition spec, snapshots with their bookmarks, rows."""
        from dativo_runner.plugins.targets.iceberg.inspect import inspect_table
        from dativo_singer.errors import DativoSingerError

        config = plan_iceberg_config(job)
        identifier = table_identifier(config, job.asset.object)
        base = {"target": job.target_entry.name, "write_mode": write_mode(job, config)}
        try:
            table = self._table(job, config, job.asset.object)
            if table is None:
                return {**base, "exists": False, "location": identifier}
            return {**base, **inspect_table(table, identifier, limit)}
        except DativoSingerError as exc:
            raise DativoError([Problem(job.file, "target", str(exc))]) from None

    def show(self, job: Job, limit: int) -> str:
        """Row count and the first ``limit`` rows of the job's table."""
        from dativo_runner.plugins.targets.iceberg.inspect import table_rows

        config = plan_iceberg_config(job)
        identifier = table_identifier(config, job.asset.object)
        table = self._table(job, config, job.asset.object)
        if table is None:
            return f"{identifier}: no such table yet (run the job first)"
        total, rows = table_rows(table, limit)
        lines = [f"{identifier}: {total:,} rows; first {len(rows)}:"]
        for row in rows:
            lines.append("  " + ", ".join(f"{k}={v}" for k, v in row.items()))
        return "\n".join(lines)

    def maintain(self, job: Job, options: MaintainOptions) -> tuple[str, str]:
        """Retention, compaction and snapshot expiry, in that order."""
        from dativo_runner.plugins.targets.iceberg.maintain import maintain_table
        from dativo_singer.errors import DativoSingerError

        table, identifier = self._existing_table(job)
        # pyiceberg's commit-retry warnings and UserWarnings would add stray stderr lines; the
        # report (or the one error line) says what happened.
        logging.getLogger("pyiceberg").addHandler(logging.NullHandler())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                run = maintain_table(
                    job.file, job.asset.governance.retention_days, table, identifier, options
                )
        except DativoSingerError as exc:
            message = str(exc)
        except Exception as exc:  # e.g. storage unreachable while reading data files
            message = f"maintenance of {identifier} failed: {type(exc).__name__}: {exc}"
        else:
            return run.as_text(), run.as_json()
        raise DativoError([Problem(job.file, "target", message)])


def write_mode(job: Job, config: dict[str, Any]) -> str:
    """The write mode target-iceberg will use: ``write_mode``, else ``load_method``'s, else
    merge for a keyed stream with a replication key, else append (target_iceberg.settings)."""
    from dativo_singer.settings import LOAD_METHOD_WRITE_MODES

    chosen = config.get("write_mode") or LOAD_METHOD_WRITE_MODES.get(str(config.get("load_method")))
    if chosen:
        return str(chosen)
    keyed_reads = job.incremental.cursor_field or job.incremental.log_based
    return "merge" if job.asset.primary_key and keyed_reads else "append"


def _check_owner(job: Job, config: dict[str, Any], stream: str, properties: dict[str, Any] | None) -> None:
    """Refuse (one line naming the job field) a table another tenant owns before its bookmark,
    rows or snapshots are read or maintained, and an unowned one outside the tenant's default
    namespace (the rule of target_iceberg.ownership, which claims the others when it writes)."""
    if properties is None:
        return
    owner = properties.get("dativo.tenant")
    named_table = job.target.get("table") and not job.target.get("namespace")
    field = "target.table" if named_table else "target.namespace"
    identifier = table_identifier(config, stream)
    problem = recorded_owner_problem(owner, job.tenant_id, f"table {identifier}", field)
    namespace = identifier.rpartition(".")[0]
    if not owner and namespace != job.tenant_id:
        problem = (
            f"table {identifier} records no owning tenant and namespace {namespace!r} is not tenant "
            f"{job.tenant_id!r}'s default: set its property dativo.tenant={job.tenant_id} to adopt it"
        )
    if problem:
        raise DativoError([Problem(job.file, field, problem)])


def _unwritable(folder: Path) -> str | None:
    """Why files cannot be made in ``folder`` (created if missing), or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"cannot be written ({exc.strerror or exc})"
    return None


def _moved_warehouse(job: Job, config: dict[str, Any]) -> list[Problem]:
    """The embedded catalog records absolute locations: a warehouse folder moved elsewhere (or
    mounted at another path in a container) no longer finds its tables. Say so, with the fix."""
    if config.get("catalog"):
        return []
    root = Path(config["warehouse_dir"]).resolve()
    database = root / "catalog.db"
    if not database.is_file():
        return []
    path = _location_outside(root, database, _file_version(database), _file_version(Path(f"{database}-wal")))
    if path is None:
        return []
    old = next((p for p in path.parents if p.name == root.name), path.parent)
    return [
        Problem(
            job.file,
            "target",
            f"the embedded catalog {job.home.display(database)} records its tables under "
            f"{old}, not {root}: the warehouse folder was moved. Move it back, or mount it "
            f"at {old} (e.g. docker run -v ...:{old}), or use a shared catalog",
        )
    ]


def _file_version(path: Path) -> tuple[int, int] | None:
    """A file's modification time and size (None when it does not exist)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=32)
def _location_outside(
    root: Path, database: Path, version: tuple[int, int] | None, wal: tuple[int, int] | None
) -> Path | None:
    """The first table location the catalog records outside ``root`` that does not exist, once
    per version of the catalog file (a code location of hundreds of jobs asks once per job)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT metadata_location FROM iceberg_tables").fetchall()
    except sqlite3.Error:
        return None  # not our concern here: the target reports an unreadable catalog
    for (location,) in rows:
        path = Path(str(location or "").removeprefix("file://"))
        local = bool(location) and str(location).startswith(("file:", "/"))
        if local and not path.is_relative_to(root) and not path.exists():
            return path
    return None


def _blocking_file(folder: Path) -> Path | None:
    """The first path from ``folder`` up that exists and is not a folder."""
    for path in (folder, *folder.parents):
        if path.exists():
            return None if path.is_dir() else path
    return None
