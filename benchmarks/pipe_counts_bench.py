"""What counting rows per stream at the pipe costs: 1,000,000 RECORD lines in 1 MiB chunks (as
the relay reads them), against a bare count of RECORD marks per chunk.

    python benchmarks/pipe_counts_bench.py [--rows N]
"""

from __future__ import annotations

import argparse
import json
import re
import time

from dativo_runner.pipe_counts import StreamCounts

_MARK = re.compile(rb'"type"\s*:\s*"RECORD"')


def main() -> None:
    """Print both timings, the counts and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    rows = parser.parse_args().rows
    record = {"id": 1, "name": "x" * 40, "amount": 12.5, "ts": "2024-01-01T00:00:00Z"}
    line = json.dumps({"type": "RECORD", "stream": "orders", "record": record}).encode() + b"\n"
    data = line * rows
    chunks = [data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20)]
    started = time.perf_counter()
    marks = sum(len(_MARK.findall(chunk)) for chunk in chunks)
    bare = time.perf_counter() - started
    counts = StreamCounts()
    started = time.perf_counter()
    counted = sum(counts.feed(chunk) for chunk in chunks) + counts.finish()
    per_stream = time.perf_counter() - started
    print(
        f"{rows:,} RECORD lines ({len(data) / 1e6:.0f} MB): marks per chunk {bare:.3f}s "
        f"({marks:,} counted; lines cut by a chunk are missed), per stream {per_stream:.3f}s "
        f"({counted:,}; {per_stream / rows * 1e6:.2f} µs a row), ratio {per_stream / bare:.1f}"
    )


if __name__ == "__main__":
    main()
