"""Measure one command as a process tree: wall seconds, CPU seconds of every process in it
(user + sys, from ``os.wait4`` of the root, which counts every waited-for descendant), the peak
of the summed RSS of the whole tree (sampled from /proc every 20 ms) and the largest single
process's peak RSS (``ru_maxrss``)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    """What one run of a command cost."""

    wall: float
    cpu: float
    tree_mb: float
    largest_mb: float


@dataclass
class Process:
    """One process of a tree as last sampled: its name, CPU seconds so far, peak RSS (KiB)."""

    name: str
    cpu: float = 0.0
    peak_kib: int = 0


def tree_processes(root: int) -> dict[int, tuple[str, int, float]]:
    """``pid: (name, RSS KiB, CPU seconds)`` of ``root`` and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    seen: dict[int, tuple[str, int, float]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                head, tail = handle.read().rsplit(")", 1)
            fields = tail.split()
            parents[int(entry.name)] = int(fields[1])
            cpu = (int(fields[11]) + int(fields[12])) / _TICKS
            seen[int(entry.name)] = (head.split("(", 1)[1], int(fields[21]) * _PAGE_KIB, cpu)
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return {pid: seen[pid] for pid in tree if pid in seen}


def tree_rss_kib(root: int) -> int:
    """RSS of ``root`` and all its descendants (KiB), from /proc."""
    return sum(rss for _, rss, _ in tree_processes(root).values())


@dataclass
class Waited:
    """A finished process tree: exit status, its rusage, wall seconds, peak tree RSS (KiB)."""

    code: int
    usage: Any
    wall: float
    peak_kib: int
    processes: dict[int, Process] = field(default_factory=dict)  # by pid, as last sampled


def wait_sampling(process: subprocess.Popen[Any], started: float) -> Waited:
    """Wait for ``process`` while sampling its tree's RSS every 20 ms."""
    peak = [0]
    done = threading.Event()
    processes: dict[int, Process] = {}

    def sample() -> None:
        while not done.is_set():
            now = tree_processes(process.pid)
            peak[0] = max(peak[0], sum(rss for _, rss, _ in now.values()))
            for pid, (name, rss, cpu) in now.items():
                seen = processes.setdefault(pid, Process(name))
                seen.name, seen.cpu, seen.peak_kib = name, cpu, max(seen.peak_kib, rss)
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Waited(process.returncode, usage, wall, peak[0], processes)


def measure(command: str, cwd: Path, log: Path) -> Figures:
    """Run the shell ``command`` to its end (stderr into ``log``); a non-zero exit raises."""
    started = time.perf_counter()
    with log.open("wb") as handle:
        waited = wait_sampling(subprocess.Popen(command, shell=True, cwd=cwd, stderr=handle), started)
    if waited.code != 0:
        raise RuntimeError(f"exit {waited.code}: {command}\n{log.read_text()[-3000:]}")
    usage = waited.usage
    return Figures(
        waited.wall,
        usage.ru_utime + usage.ru_stime,
        waited.peak_kib * 1024 / 1e6,
        usage.ru_maxrss * 1024 / 1e6,
    )
