#!/usr/bin/env python3
"""Orchestrated throughput: many scheduled jobs with nothing new, through `dativo start orchestrated`.

A project home of ``--tenants`` x ``--jobs`` CSV jobs (one table each, every one landed once before,
so each scheduled run finds nothing new), a runner YAML scheduling job ``i`` every ``--period``
minutes at minute offset ``i % period`` (200 jobs every 10 minutes: 1,200 runs an hour offered,
20 a minute), then `dativo start orchestrated` as a user starts it (its webserver, daemon, run
queue and run launcher as it configures them) for ``--minutes``. From Dagster's own run records:
runs completed per hour, queue delay (create -> start) p50/p95, schedule lateness (scheduled
time -> create), failures, and whether two runs of one tenant ever overlapped. CPU seconds per
kind of process (webserver, daemon, code server, run worker, `dativo run`) are sampled from /proc
every 0.5 s (a process's last half second is lost: slightly low), with the machine's load.

    .venv/bin/python benchmarks/orchestration_bench.py                    # 200 jobs, 6 minutes
    .venv/bin/python benchmarks/orchestration_bench.py --minutes 20 --postgres --json out.json
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(REPO)]

from tests.helpers.project import Project  # noqa: E402

ROW = "1,Acme - Platform,Acme,closed_won,1200.50,USD,1.0,true,ana@example.com,2024-03-01T10:00:00Z,2024-04-01"
KINDS = (  # what a command line contains -> its kind (first match)
    ("dagster-webserver", "webserver"),
    ("dagster-daemon", "daemon"),
    ("api grpc", "code server"),
    ("api execute_run", "run worker"),
    ("resource_tracker", "other"),
    ("spawn_main", "run worker"),  # the code server starts each run worker with multiprocessing
    ("dativo_runner run", "dativo run"),
    ("tap-", "tap / target"),
    ("target-", "tap / target"),
)
_TICK = os.sysconf("SC_CLK_TCK")


def make_home(root: Path, tenants: int, jobs: int, period: int) -> Project:
    """The home: ``tenants`` x ``jobs`` CSV jobs over one small file, and their schedules."""
    project = Project(root) if (root / "jobs").is_dir() else Project.create(root)
    if not (root / "data/deals/a.csv").exists():  # rewritten, it would be new to every job
        project.write_deals("a.csv", [ROW])
    spec = (REPO / "assets/csv/v1.0/deals.yaml").read_text()
    schedules = []
    for j in range(jobs):
        project.write(
            f"assets/csv/v1.0/deals_{j}.yaml", spec.replace("name: csv_deals", f"name: csv_deals_{j}")
        )
    for t in range(tenants):
        tenant = f"t{t:02d}"
        for j in range(jobs):
            job = project.deals_job(
                tenant_id=tenant, asset=f"csv_deals_{j}", asset_path=f"assets/csv/v1.0/deals_{j}.yaml"
            )
            project.write_job(f"deals_{j}", job, tenant=tenant)
            offset = (t * jobs + j) % period
            schedules.append(
                {
                    "name": f"{tenant}_deals_{j}",
                    "config": f"jobs/{tenant}/deals_{j}.yaml",
                    "cron": f"{offset}-59/{period} * * * *",
                }
            )
    orchestrator = {"type": "dagster", "schedules": schedules, "concurrency_per_tenant": 1}
    project.write("configs/runner.yaml", yaml.safe_dump({"runner": {"orchestrator": orchestrator}}))
    return project


def land_once(project: Project, tenants: int) -> float:
    """Every job run once (two `dativo run --job-dir` side by side), so nothing is new after;
    jobs whose state file is there already are skipped. Wall seconds."""
    started = time.monotonic()
    todo = [
        f"jobs/t{t:02d}"
        for t in range(tenants)
        if len(list((project.root / "state" / f"t{t:02d}").glob("*.json")))
        < len(list((project.root / f"jobs/t{t:02d}").glob("*.yaml")))
    ]
    halves = [todo[0::2], todo[1::2]]
    processes = []
    for half in halves:
        if not half:
            continue
        script = " && ".join(
            f"{sys.executable} -m dativo_runner run --job-dir {folder} --home {project.root} > /dev/null"
            for folder in half
        )
        processes.append(subprocess.Popen(script, shell=True))
    for process in processes:
        if process.wait() != 0:
            raise RuntimeError("landing the jobs once failed")
    return time.monotonic() - started


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class CpuSampler:
    """CPU seconds per kind of process below ``root``, sampled from /proc."""

    def __init__(self, root: int, interval: float = 0.5) -> None:
        self.root = root
        self.interval = interval
        self.last: dict[int, tuple[str, float]] = {}  # pid -> (kind, cpu seconds last seen)
        self.done: dict[str, float] = defaultdict(float)  # kind -> cpu of processes gone
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, float]:
        """Stop sampling; CPU seconds per kind."""
        self._stop.set()
        self._thread.join()
        totals = defaultdict(float, self.done)
        for kind, cpu in self.last.values():
            totals[kind] += cpu
        return dict(totals)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            seen = self._sample()
            for pid in set(self.last) - set(seen):  # ended: keep its last figure
                kind, cpu = self.last.pop(pid)
                self.done[kind] += cpu
            self.last.update(seen)

    def _sample(self) -> dict[int, tuple[str, float]]:
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            cpu[pid] = (int(fields[11]) + int(fields[12])) / _TICK
        tree, frontier = {self.root}, [self.root]
        while frontier:
            parent = frontier.pop()
            children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
            tree.update(children)
            frontier.extend(children)
        seen = {}
        for pid in tree:
            kind = self.last[pid][0] if pid in self.last else _kind(pid)
            seen[pid] = (kind, cpu.get(pid, 0.0))
        return seen


def _kind(pid: int) -> str:
    try:
        line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "other"
    return next(
        (kind for mark, kind in KINDS if mark in line), "dativo start" if "start" in line else "other"
    )


def machine_busy() -> tuple[float, float]:
    """Busy and total jiffies of the whole machine (every user), from /proc/stat."""
    fields = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def start_orchestrated(
    project: Project, log: Path, postgres_url: str | None
) -> tuple[subprocess.Popen[bytes], str]:
    """`dativo start orchestrated` on a free port, once its UI answers."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATIVO_HOME", "DAGSTER_HOME")}
    runner = yaml.safe_load((project.root / "configs/runner.yaml").read_text())
    storage = runner["runner"]["orchestrator"]
    if postgres_url:
        storage["storage"] = {"postgres": {"url_env": "BENCH_DAGSTER_PG_URL"}}
        env["BENCH_DAGSTER_PG_URL"] = postgres_url
    else:
        storage.pop("storage", None)
    project.write("configs/runner.yaml", yaml.safe_dump(runner))
    port = _free_port()
    command = [sys.executable, "-m", "dativo_runner", "start", "orchestrated", "--home", str(project.root)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 300
    while "Dagster UI at" not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"dativo start orchestrated did not start:\n{log.read_text()[-3000:]}")
        time.sleep(1)
    return process, f"http://127.0.0.1:{port}"


def run_records(dagster_home: Path) -> list[dict[str, Any]]:
    """Every run of the instance: create, start, end (epoch seconds), status, tags."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        return [
            {
                "id": record.dagster_run.run_id,
                "created": record.create_timestamp.timestamp(),
                "start": record.start_time,
                "end": record.end_time,
                "status": record.dagster_run.status.value,
                "tenant": record.dagster_run.tags.get("dativo/tenant"),
                "scheduled": _epoch(record.dagster_run.tags.get(".dagster/scheduled_execution_time")),
            }
            for record in instance.get_run_records()
        ]
    finally:
        instance.dispose()


def _epoch(value: str | None) -> float | None:
    """A scheduled execution time tag (ISO 8601) in epoch seconds."""
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def overlaps(runs: list[dict[str, Any]], until: float) -> list[tuple[str, str]]:
    """Pairs of runs of one tenant that were in progress at the same moment."""
    found = []
    by_tenant: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        if run["start"] is not None:
            by_tenant[run["tenant"]].append(run)
    for tenant_runs in by_tenant.values():
        tenant_runs.sort(key=lambda r: r["start"])
        for before, after in itertools.pairwise(tenant_runs):
            if after["start"] < (before["end"] or until):
                found.append((before["id"], after["id"]))
    return found


def summarize(runs: list[dict[str, Any]], window: tuple[float, float]) -> dict[str, Any]:
    """The figures of the runs created in ``window``."""
    t0, t1 = window
    inside = [r for r in runs if t0 <= r["created"] < t1]
    finished = [r for r in inside if r["end"] is not None and r["end"] <= t1]
    started = [r for r in inside if r["start"] is not None and r["start"] <= t1]
    delays = [r["start"] - r["created"] for r in started if r["start"] is not None]
    late = [r["created"] - r["scheduled"] for r in inside if r["scheduled"] is not None]
    hours = (t1 - t0) / 3600
    return {
        "window_seconds": round(t1 - t0),
        "runs_created": len(inside),
        "runs_finished": len(finished),
        "runs_per_hour": round(len(finished) / hours),
        "offered_per_hour": round(len(inside) / hours),
        "failed": sum(1 for r in finished if r["status"] != "SUCCESS"),
        "still_queued_at_end": sum(1 for r in inside if r["start"] is None or r["start"] > t1),
        "queue_delay_p50": round(percentile(delays, 0.5), 1),
        "queue_delay_p95": round(percentile(delays, 0.95), 1),
        "queue_delay_max": round(max(delays, default=float("nan")), 1),
        "schedule_lateness_p50": round(percentile(late, 0.5), 1),
        "run_seconds_p50": round(
            statistics.median([r["end"] - r["start"] for r in finished if r["start"] is not None] or [0]), 2
        ),
        "tenant_overlaps": len(overlaps(inside, t1)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=10, help="jobs per tenant (default 10)")
    parser.add_argument("--period", type=int, default=10, help="minutes between runs of a job (divides 60)")
    parser.add_argument("--minutes", type=float, default=6, help="measured minutes (default 6)")
    parser.add_argument("--postgres", action="store_true", help="Dagster storage on the local PostgreSQL")
    parser.add_argument("--home", type=Path, default=BENCH / "out" / "orchestration-home")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if 60 % args.period:
        parser.error("--period must divide 60")
    args.home.mkdir(parents=True, exist_ok=True)
    project = make_home(args.home, args.tenants, args.jobs, args.period)
    landed = land_once(project, args.tenants)
    print(f"setup: {args.tenants * args.jobs} jobs landed once in {landed:.0f} s", flush=True)
    dagster_home = project.root / "state/.dagster"
    shutil.rmtree(dagster_home, ignore_errors=True)  # a fresh instance: no earlier runs
    postgres_url = _postgres_database() if args.postgres else None
    load_before = os.getloadavg()
    process, url = start_orchestrated(project, args.home / "start.log", postgres_url)
    print(f"started: {url} ({'PostgreSQL' if postgres_url else 'SQLite'} storage)", flush=True)
    sampler = CpuSampler(process.pid)
    sampler.start()
    t0 = (time.time() // 60 + 1) * 60  # the next minute: the first ticks
    t1 = t0 + args.minutes * 60
    busy0 = None
    while time.time() < t1:
        if busy0 is None and time.time() >= t0:
            busy0 = machine_busy()
        time.sleep(1)
    busy1 = machine_busy()
    runs = run_records(dagster_home) if not postgres_url else _postgres_records(dagster_home, postgres_url)
    cpu = sampler.stop()
    load_after = os.getloadavg()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)
    figures = summarize(runs, (t0, t1))
    assert busy0 is not None
    machine = 100 * (busy1[0] - busy0[0]) / max(1.0, busy1[1] - busy0[1])
    ours = sum(cpu.values())
    figures.update(
        jobs=args.tenants * args.jobs,
        tenants=args.tenants,
        storage="postgres" if postgres_url else "sqlite",
        load_average=[round(load_before[0], 1), round(load_after[0], 1)],
        machine_cpu_busy_percent=round(machine),
        cpu_seconds={kind: round(value) for kind, value in sorted(cpu.items())},
        cpu_seconds_per_finished_run=round(ours / max(1, figures["runs_finished"]), 2),
    )
    print(json.dumps(figures, indent=2))
    goal = figures["runs_per_hour"] >= 1000 and figures["queue_delay_p95"] < 60
    print(f"goal >= 1,000 runs/h and p95 queue delay < 60 s: {'met' if goal else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if figures["tenant_overlaps"] == 0 and figures["failed"] == 0 else 1


def _postgres_database() -> str:
    """A fresh database on the local PostgreSQL for Dagster's storage; its URL."""
    from tests import services

    pg = services.postgres()
    name = f"dagster_bench_{os.getpid()}"
    import psycopg2

    connection = psycopg2.connect(pg.dsn)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return f"postgresql://{pg.user}@{pg.host}:{pg.port}/{name}"


def _postgres_records(dagster_home: Path, url: str) -> list[dict[str, Any]]:
    os.environ["BENCH_DAGSTER_PG_URL"] = url
    return run_records(dagster_home)


if __name__ == "__main__":
    sys.exit(main())
