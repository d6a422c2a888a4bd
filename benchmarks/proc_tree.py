"""Measure one command as a process tree: wall seconds, CPU seconds of every process in it
(user + sys, from ``os.wait4`` of the root, which counts every waited-for descendant), the peak
of the summed RSS of the whole tree (sampled from /proc every 20 ms) and the largest single
process's peak RSS (``ru_maxrss``)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass
class Figures:
    """What one run of a command cost."""

    wall: float
    cpu: float
    tree_mb: float
    largest_mb: float


def tree_rss_kib(root: int) -> int:
    """RSS of ``root`` and all its descendants (KiB), from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
            rss[int(entry.name)] = int(fields[21]) * _PAGE_KIB
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(pid, 0) for pid in tree)


@dataclass
class Waited:
    """A finished process tree: exit status, its rusage, wall seconds, peak tree RSS (KiB)."""

    code: int
    usage: Any
    wall: float
    peak_kib: int


def wait_sampling(process: subprocess.Popen[Any], started: float) -> Waited:
    """Wait for ``process`` while sampling its tree's RSS every 20 ms."""
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_kib(process.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Waited(process.returncode, usage, wall, peak[0])


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
