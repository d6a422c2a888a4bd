#!/usr/bin/env python3
"""Start-up cost of each program: CPU seconds (user + sys, every process) and wall seconds of
importing each console script's module, of ``<program> --about`` and of a ``dativo validate`` and
a no-op ``dativo run`` (a 1,000-row CSV job run once before, so the second run finds nothing new:
one process, the runner's own check) beside the same run with ``--always-start`` (tap and target
started, the reference), and a run that finds one new 1,000-row file; median of ``--repeat``
rounds, each against the goals of a small run.

    .venv/bin/python benchmarks/startup_bench.py              # median of 3
    .venv/bin/python benchmarks/startup_bench.py --repeat 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import csv_bench  # noqa: E402

BIN = Path(sys.executable).parent
MODULES = {
    "dativo": "dativo_runner.cli",
    "tap-csv": "tap_csv.tap",
    "tap-postgres": "tap_postgres.tap",
    "tap-mysql": "tap_mysql.tap",
    "target-iceberg": "target_iceberg.target",
    "target-objects": "target_objects.target",
}

# The goals of a small run (docs/ARCHITECTURE.md, "Nothing to do").
GOALS = {
    "dativo run, nothing new": ("wall", 0.5),
    "dativo run, 1,000 new rows": ("wall", 1.5),
}
GOALS_CPU = {"dativo run, nothing new": 0.5}


def cpu_of(
    command: list[str], env: dict[str, str] | None = None, stdout: list[str] | None = None
) -> tuple[float, float]:
    """(CPU seconds of the command and its children, wall seconds); a failure raises. The
    command's output is appended to ``stdout`` when given."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    if stdout is not None:
        stdout.append(done.stdout)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = BENCH / "out"
    out.mkdir(exist_ok=True)
    csv_path = out / "orders-1000.csv"
    if not csv_path.exists():
        csv_bench.write_csv(csv_path, 1000)
    home, job = csv_bench.dativo_home(out / "home-startup", csv_path, True, "data/orders*.csv")
    dativo = [str(BIN / "dativo")]
    run = [*dativo, "run", "--config", str(job), "--home", str(home)]
    cpu_of(run)  # the first run lands the rows; the measured ones find nothing new
    commands: dict[str, list[str]] = {}
    for module in MODULES.values():
        commands[f"import {module}"] = [sys.executable, "-c", f"import {module}"]
    for program in MODULES:
        if program != "dativo":
            commands[f"{program} --about"] = [str(BIN / program), "--about", "--format", "json"]
    commands["dativo validate (csv → iceberg job)"] = [
        *dativo,
        "validate",
        "--config",
        str(job),
        "--home",
        str(home),
    ]
    commands["dativo run, nothing new"] = run
    commands["dativo run --always-start, nothing new (3 processes)"] = [*run, "--always-start"]
    load = os.getloadavg()
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    incremental = "dativo run, 1,000 new rows"
    samples[incremental] = []
    for round_ in range(args.repeat):
        for name, command in commands.items():
            samples[name].append(cpu_of(command))
        new_file = home / "data" / f"orders-new-{round_}.csv"
        csv_bench.write_csv(new_file, 1000, first_id=1001 + 1000 * round_)
        samples[incremental].append(cpu_of(run))
    print(f"load average {load[0]:.1f} before, {os.getloadavg()[0]:.1f} after; median of {args.repeat}")
    print(f"{'what':54} {'CPU s':>6} {'wall s':>7}")
    results = {}
    for name, found in samples.items():
        cpu = statistics.median(c for c, _ in found)
        wall = statistics.median(w for _, w in found)
        results[name] = {"cpu": cpu, "wall": wall}
        print(f"{name:54} {cpu:6.2f} {wall:7.2f}")
    print()
    for name, (what, limit) in GOALS.items():
        if name in results:
            value = results[name][what]
            verdict = "met" if value <= limit else "MISSED"
            print(f"goal: {name} {what} <= {limit} s: {value:.2f} s, {verdict}")
    for name, limit in GOALS_CPU.items():
        value = results[name]["cpu"]
        verdict = "met" if value <= limit else "MISSED"
        print(f"goal: {name} cpu <= {limit} s: {value:.2f} s, {verdict}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
