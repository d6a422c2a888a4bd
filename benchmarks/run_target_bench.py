#!/usr/bin/env python3
"""target-iceberg versus a singer-sdk peer target on the same Singer message file.

One run: write (or reuse) a message file of N ``orders`` records per requested size, pipe it
into the peer (MeltanoLabs' ``target-csv``, in ``benchmarks/.peer-venv``) and into
``target-iceberg``, each as its own subprocess reading the file on stdin, and measure wall
time and peak RSS of exactly that process (``os.wait4`` rusage of the one child). Then
check the output row counts (CSV rows; Iceberg rows scanned with pyiceberg) and print
seconds, rows/s, peak MB and the peer/iceberg ratios against the goals.

``--merge`` adds the merge benchmark: append 1M rows, then send 100k changed rows (same
ids, other values) with ``"write_mode": "merge"``; report the merge time and check that
the table still has 1M rows and shows the changed values.

Run from the repo root with the project venv:

    .venv/bin/python benchmarks/run_target_bench.py                      # 1M, with the peer
    .venv/bin/python benchmarks/run_target_bench.py --rows 1000000 5000000
    .venv/bin/python benchmarks/run_target_bench.py --skip-peer --merge

MB here are 10^6 bytes (ru_maxrss KiB * 1024 / 1e6).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import make_messages  # noqa: E402

GOAL_SPEEDUP = 10.0
GOAL_PEAK_MB = 500.0
GOAL_MERGE_SECONDS = 15.0
NAMESPACE = "bench"
TABLE = f"{NAMESPACE}.orders"


# --------------------------------------------------------------------------- messages


def _generator_version() -> str:
    """Cached message files are keyed by the generator's source (whitespace aside)."""
    source = Path(make_messages.__file__).read_bytes()
    return hashlib.sha1(b"".join(source.split())).hexdigest()[:8]


def _rows_label(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows % 1000 == 0:
        return f"{rows // 1000}k"
    return str(rows)


def messages_file(
    cache_dir: Path, rows: int, changed_from: int | None = None, sdc: bool = False
) -> Path:
    """The cached message file for ``rows`` records (written first when missing)."""
    kind = f"changed{changed_from}" if changed_from is not None else "sdc" if sdc else "base"
    path = cache_dir / f"orders-{_rows_label(rows)}-{kind}-{_generator_version()}.jsonl"
    for stale in cache_dir.glob(f"orders-{_rows_label(rows)}-{kind}-*.jsonl"):
        if stale != path:  # written by an older generator
            stale.unlink()
    if path.exists():
        print(f"# reusing {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")
        return path
    started = time.perf_counter()
    if changed_from is None:
        make_messages.write_messages(path, rows, first_id=1, sdc=sdc)
    else:
        make_messages.write_messages(path, rows, first_id=changed_from, changed=True)
    print(
        f"# wrote {path.name}: {rows:,} records, {path.stat().st_size / 1e6:.0f} MB "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return path


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    """One measured subprocess."""

    tool: str
    rows: int
    seconds: float
    peak_mb: float
    user_seconds: float
    system_seconds: float
    exit_code: int
    log: str
    verified_rows: int | None = None
    problems: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.problems

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def measure(
    tool: str,
    command: list[str],
    stdin_path: Path,
    work_dir: Path,
    rows: int,
    timeout: float | None,
) -> Run:
    """Run ``command < stdin_path``; wall time and the rusage of that one child (os.wait4)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / f"{tool}.stderr.log"
    out_path = work_dir / f"{tool}.stdout"
    print(f"# running {tool} on {stdin_path.name} ({rows:,} records) ...", flush=True)
    with stdin_path.open("rb") as fin, out_path.open("wb") as fout, log_path.open("wb") as ferr:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdin=fin, stdout=fout, stderr=ferr, cwd=work_dir)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if timeout is not None and time.perf_counter() - started > timeout:
                proc.kill()
                timed_out = True
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    run = Run(
        tool=tool,
        rows=rows,
        seconds=seconds,
        peak_mb=usage.ru_maxrss * 1024 / 1e6,  # Linux: KiB
        user_seconds=usage.ru_utime,
        system_seconds=usage.ru_stime,
        exit_code=proc.returncode,
        log=str(log_path),
    )
    if timed_out:
        run.problems.append(f"killed after the {timeout:.0f} s timeout")
    elif run.exit_code != 0:
        run.problems.append(f"exit code {run.exit_code}: {_tail(log_path)}")
    return run


def _tail(path: Path, lines: int = 3) -> str:
    text = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:]) if text else "(no stderr)"


def commit_log(log_path: Path) -> list[dict[str, Any]]:
    """The ``dativo.commit {json}`` records target-iceberg logged on stderr."""
    commits = []
    for line in Path(log_path).read_text(errors="replace").splitlines():
        _, marker, payload = line.partition("dativo.commit ")
        if marker:
            with contextlib.suppress(json.JSONDecodeError):
                commits.append(json.loads(payload))
    return commits


# --------------------------------------------------------------------------- the tools


def peer_command(args: argparse.Namespace) -> list[str]:
    if args.peer_cmd:
        return [args.peer_cmd]
    script = subprocess.run(
        ["bash", str(BENCH_DIR / "peer_venv.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    return [script]


def iceberg_command(args: argparse.Namespace) -> list[str]:
    if args.iceberg_cmd:
        return [args.iceberg_cmd]
    beside = Path(sys.executable).parent / "target-iceberg"  # the venv running this script
    if beside.exists():
        return [str(beside)]
    found = shutil.which("target-iceberg")
    if found:
        return [found]
    return [sys.executable, "-c", "from target_iceberg.target import main; main()"]


def run_peer(args: argparse.Namespace, messages: Path, rows: int, work: Path) -> Run:
    out_dir = work / "csv"
    work.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {"output_path": str(out_dir)}
    if args.peer_batch_size_rows:
        config["batch_size_rows"] = args.peer_batch_size_rows
    config_path = work / "target-csv.json"
    config_path.write_text(json.dumps(config))
    run = measure(
        "target-csv",
        [*peer_command(args), "--config", str(config_path)],
        messages,
        work,
        rows,
        args.timeout,
    )
    run.notes["batch_size_rows"] = args.peer_batch_size_rows or "sdk default (target-csv: unbounded)"
    if run.exit_code == 0:
        run.verified_rows = count_csv_rows(out_dir)
        if run.verified_rows != rows:
            run.problems.append(f"CSV has {run.verified_rows:,} rows, expected {rows:,}")
    if not args.keep:
        shutil.rmtree(out_dir, ignore_errors=True)
    return run


def count_csv_rows(out_dir: Path) -> int:
    total = 0
    for path in sorted(out_dir.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            next(reader, None)  # header
            total += sum(1 for _ in reader)
    return total


def iceberg_config(args: argparse.Namespace, warehouse: Path, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"warehouse_dir": str(warehouse), "namespace": NAMESPACE}
    if args.batch_size_rows:
        config["batch_size_rows"] = args.batch_size_rows
    config.update(extra)
    return config


def run_iceberg(
    args: argparse.Namespace,
    messages: Path,
    rows: int,
    work: Path,
    config: dict[str, Any],
    tool: str = "target-iceberg",
) -> Run:
    config_path = work / f"{tool}.json"
    work.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(config))
    run = measure(
        tool, [*iceberg_command(args), "--config", str(config_path)], messages, work, rows, args.timeout
    )
    commits = commit_log(Path(run.log))
    run.notes["batch_size_rows"] = config.get("batch_size_rows", "target default")
    run.notes["commits"] = len(commits)
    run.notes["committed_rows"] = sum(int(c.get("rows") or 0) for c in commits)
    run.notes["seconds_in_commits"] = round(sum(float(c.get("seconds") or 0) for c in commits), 2)
    return run


def load_table(config: dict[str, Any]) -> Any:
    from target_iceberg.catalog import open_catalog

    return open_catalog(dict(config)).load_table(TABLE)


def verify_iceberg(run: Run, config: dict[str, Any], expected_rows: int) -> Any:
    """Scan the id column: row count and distinct ids must both be ``expected_rows``."""
    if run.exit_code != 0:
        return None
    import pyarrow.compute as pc

    try:
        table = load_table(config)
        ids = table.scan(selected_fields=("id",)).to_arrow()["id"]
    except Exception as exc:
        run.problems.append(f"cannot read {TABLE}: {type(exc).__name__}: {exc}")
        return None
    run.verified_rows = len(ids)
    distinct = pc.count_distinct(ids).as_py()
    run.notes["distinct_ids"] = distinct
    if run.verified_rows != expected_rows:
        run.problems.append(f"table has {run.verified_rows:,} rows, expected {expected_rows:,}")
    elif distinct != expected_rows:
        run.problems.append(f"table has {distinct:,} distinct ids, expected {expected_rows:,}")
    return table


# --------------------------------------------------------------------------- benchmarks


def bench_size(args: argparse.Namespace, rows: int, work_root: Path) -> list[Run]:
    messages = messages_file(args.cache_dir, rows, sdc=args.strict_sdc)
    work = work_root / _rows_label(rows)
    runs: list[Run] = []
    if not args.skip_peer and rows <= args.peer_max_rows:
        runs.append(run_peer(args, messages, rows, work))
    elif not args.skip_peer:
        print(f"# peer skipped at {rows:,} rows (--peer-max-rows {args.peer_max_rows:,})")
    # Explicit append: the stream has a key, and the target may default keyed streams to merge.
    config = iceberg_config(args, work / "warehouse", write_mode="append")
    if args.strict_sdc:
        config["schema_mode"] = "strict"
    run = run_iceberg(args, messages, rows, work, config)
    verify_iceberg(run, config, rows)
    if run.notes.get("committed_rows") not in (None, 0, rows) and run.exit_code == 0:
        run.problems.append(f"commit log sums to {run.notes['committed_rows']:,} rows")
    runs.append(run)
    if not args.keep:
        shutil.rmtree(work / "warehouse", ignore_errors=True)
    return runs


def _parse_ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _first_record(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        for line in fh:
            message = json.loads(line)
            if message.get("type") == "RECORD":
                return message["record"]  # type: ignore[no-any-return]
    raise ValueError(f"no RECORD in {path}")


def check_changed_row(run: Run, table: Any, changed: dict[str, Any]) -> None:
    """The table row with the changed record's id must carry the changed values."""
    from pyiceberg.expressions import EqualTo

    found = table.scan(row_filter=EqualTo("id", changed["id"])).to_arrow().to_pylist()
    if len(found) != 1:
        run.problems.append(f"id {changed['id']}: {len(found)} rows after the merge, expected 1")
        return
    row = found[0]
    wrong = []
    for name in ("status", "note", "amount", "customer_id", "quantity"):
        if row.get(name) != changed[name]:
            wrong.append(f"{name}={row.get(name)!r} (sent {changed[name]!r})")
    if row.get("updated_at") != _parse_ts(changed["updated_at"]):
        wrong.append(f"updated_at={row.get('updated_at')} (sent {changed['updated_at']})")
    if wrong:
        run.problems.append(f"id {changed['id']} not updated: " + ", ".join(wrong))
    else:
        run.notes["changed_row_checked"] = {
            "id": changed["id"],
            "status": row["status"],
            "note": row["note"],
            "updated_at": str(row["updated_at"]),
        }


def _snapshot_note(snapshot: Any) -> str:
    """``operation key=value ...`` with the counts of one snapshot's summary."""
    summary = snapshot.summary
    if summary is None:
        return "?"
    operation = getattr(summary.operation, "value", summary.operation)
    counts = {
        key: value
        for key, value in summary.additional_properties.items()
        if key.startswith(("added-", "deleted-", "removed-"))
        and key.endswith(("records", "files", "deletes"))
    }
    return f"{operation} " + " ".join(f"{k}={v}" for k, v in sorted(counts.items()))


def bench_merge(args: argparse.Namespace, work_root: Path) -> list[Run]:
    base_rows, changed_rows, first = args.merge_base_rows, args.merge_rows, args.merge_changed_from
    if first + changed_rows - 1 > base_rows:
        raise SystemExit("--merge-changed-from + --merge-rows must stay within the base ids")
    base = messages_file(args.cache_dir, base_rows)
    changed_file = messages_file(args.cache_dir, changed_rows, changed_from=first)
    work = work_root / "merge"
    warehouse = work / "warehouse"
    load_config = iceberg_config(args, warehouse, write_mode="append")
    load = run_iceberg(args, base, base_rows, work, load_config, tool="iceberg-load-append")
    loaded = verify_iceberg(load, load_config, base_rows)
    runs = [load]
    if not load.ok or loaded is None:
        return runs
    before = {snapshot.snapshot_id for snapshot in loaded.snapshots()}
    merge_config = iceberg_config(args, warehouse, write_mode="merge")
    merge = run_iceberg(args, changed_file, changed_rows, work, merge_config, tool="iceberg-merge")
    runs.append(merge)
    if merge.exit_code != 0:
        merge.problems.insert(0, "target-iceberg rejected or failed write_mode=merge")
    else:
        table = verify_iceberg(merge, merge_config, base_rows)
        if merge.verified_rows == base_rows + changed_rows:
            merge.problems.insert(0, "write_mode=merge was ignored: the changed rows were appended")
        if table is not None:
            check_changed_row(merge, table, _first_record(changed_file))
            merge.notes["snapshots"] = [
                _snapshot_note(snapshot)
                for snapshot in table.snapshots()
                if snapshot.snapshot_id not in before
            ]
    if not args.keep:
        shutil.rmtree(warehouse, ignore_errors=True)
    return runs


# --------------------------------------------------------------------------- report


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(size_runs: list[list[Run]], merge_runs: list[Run]) -> list[str]:
    """Print the tables; return the goals that were missed."""
    missed: list[str] = []
    header = f"{'tool':<20} {'rows':>10} {'seconds':>9} {'rows/s':>10} {'peak MB':>9} {'cpu s':>8}  result"
    print()
    print(header)
    print("-" * len(header))
    for runs in [*size_runs, merge_runs]:
        for run in runs:
            result = "ok" if run.ok else "FAILED: " + "; ".join(run.problems)
            if run.ok and run.verified_rows is not None:
                result = f"ok, {run.verified_rows:,} rows read back"
            print(
                f"{run.tool:<20} {run.rows:>10,} {run.seconds:>9.2f} {run.rows_per_second:>10,.0f} "
                f"{run.peak_mb:>9.0f} {run.user_seconds + run.system_seconds:>8.1f}  {result}"
            )
    print()
    for runs in size_runs:
        by_tool = {run.tool: run for run in runs}
        ice = by_tool.get("target-iceberg")
        if ice is None:
            continue
        label = _rows_label(ice.rows)
        peer = by_tool.get("target-csv")
        if peer is not None and peer.ok and ice.ok:
            speedup = peer.seconds / ice.seconds
            memory = peer.peak_mb / ice.peak_mb
            cpu = (peer.user_seconds + peer.system_seconds) / max(ice.user_seconds + ice.system_seconds, 1e-9)
            ok = speedup >= GOAL_SPEEDUP
            print(
                f"{label}: time ratio target-csv/target-iceberg = {speedup:.2f}x "
                f"(goal >= {GOAL_SPEEDUP:.0f}x: {_verdict(ok)}); CPU-time ratio {cpu:.2f}x"
            )
            print(
                f"{label}: peak memory ratio target-csv/target-iceberg = {memory:.2f}x "
                f"({peer.peak_mb:.0f} MB vs {ice.peak_mb:.0f} MB)"
            )
            if not ok:
                missed.append(f"{label}: speedup {speedup:.2f}x < {GOAL_SPEEDUP:.0f}x")
        ok = ice.ok and ice.peak_mb < GOAL_PEAK_MB
        print(
            f"{label}: target-iceberg peak memory {ice.peak_mb:.0f} MB "
            f"(goal < {GOAL_PEAK_MB:.0f} MB: {_verdict(ok)})"
        )
        if not ok:
            missed.append(f"{label}: target-iceberg peak {ice.peak_mb:.0f} MB")
        notes = ice.notes
        if notes.get("commits"):
            print(
                f"{label}: target-iceberg made {notes['commits']} commits "
                f"(batch_size_rows {notes['batch_size_rows']}), "
                f"{notes['seconds_in_commits']:.1f} s of {ice.seconds:.1f} s in process_batch"
            )
    if merge_runs:
        merge = next((r for r in merge_runs if r.tool == "iceberg-merge"), None)
        if merge is None:
            print("merge: not run (the append load failed)")
            missed.append("merge: not run")
        else:
            ok = merge.ok and merge.seconds < GOAL_MERGE_SECONDS
            print(
                f"merge: {merge.rows:,} changed rows into {merge_runs[0].rows:,} in "
                f"{merge.seconds:.2f} s (goal < {GOAL_MERGE_SECONDS:.0f} s: {_verdict(ok)})"
                + ("" if merge.ok else " -- " + "; ".join(merge.problems))
            )
            if merge.ok:
                print(f"merge: checked {merge.notes.get('changed_row_checked')}")
                for note in merge.notes.get("snapshots", []):
                    print(f"merge: new snapshot: {note}")
            if not ok:
                missed.append(f"merge: {merge.seconds:.1f} s or failed")
    return missed


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "loadavg_at_start": os.getloadavg()[0],
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000], help="sizes (default 1M)")
    parser.add_argument("--skip-peer", action="store_true", help="run target-iceberg only")
    parser.add_argument(
        "--peer-max-rows",
        type=int,
        default=1_000_000,
        help="run the peer only up to this size (default 1M; it keeps all records in memory)",
    )
    parser.add_argument("--batch-size-rows", type=int, help="target-iceberg batch_size_rows")
    parser.add_argument(
        "--peer-batch-size-rows", type=int, help="target-csv batch_size_rows (default: its own)"
    )
    parser.add_argument(
        "--strict-sdc",
        action="store_true",
        help="records carry tap-csv's _sdc_source_* fields and target-iceberg runs with schema_mode strict",
    )
    parser.add_argument("--merge", action="store_true", help="also run the merge benchmark")
    parser.add_argument("--merge-only", action="store_true", help="run only the merge benchmark")
    parser.add_argument("--merge-base-rows", type=int, default=1_000_000)
    parser.add_argument("--merge-rows", type=int, default=100_000)
    parser.add_argument(
        "--merge-changed-from", type=int, default=450_001, help="first changed id (default 450001)"
    )
    parser.add_argument("--timeout", type=float, help="kill a measured process after this many s")
    parser.add_argument("--cache-dir", type=Path, default=BENCH_DIR / "out" / "messages")
    parser.add_argument("--work-dir", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--keep", action="store_true", help="keep CSV output and warehouses")
    parser.add_argument("--peer-cmd", help="peer target executable (default: benchmarks/.peer-venv)")
    parser.add_argument("--iceberg-cmd", help="target-iceberg executable (default: beside python)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--check-goals", action="store_true", help="exit 1 when a goal is missed, not only on errors"
    )
    args = parser.parse_args(argv)

    args.work_dir.mkdir(parents=True, exist_ok=True)
    work_root = Path(tempfile.mkdtemp(prefix="run-", dir=args.work_dir))
    info = machine()
    print(
        f"# machine: {info['cpus']} cpus, {info['cpu']}, python {info['python']}, "
        f"load average {info['loadavg_at_start']:.2f}"
    )
    print(f"# work dir: {work_root}")
    size_runs: list[list[Run]] = []
    merge_runs: list[Run] = []
    if not args.merge_only:
        for rows in args.rows:
            size_runs.append(bench_size(args, rows, work_root))
    if args.merge or args.merge_only:
        merge_runs = bench_merge(args, work_root)
    missed = report(size_runs, merge_runs)

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        results = {
            "machine": info,
            "argv": sys.argv[1:],
            "runs": [asdict(r) for runs in [*size_runs, merge_runs] for r in runs],
            "missed_goals": missed,
        }
        args.json.write_text(json.dumps(results, indent=2, default=str))
    failed = [r for runs in [*size_runs, merge_runs] for r in runs if not r.ok]
    if failed:
        print(f"\n{len(failed)} run(s) failed; logs kept under {work_root}")
        return 1
    if not args.keep:
        shutil.rmtree(work_root, ignore_errors=True)
    if missed and args.check_goals:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
