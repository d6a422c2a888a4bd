#!/usr/bin/env bash
# How long the README's first command takes: `make demo` in a fresh clone of this repo's HEAD,
# with empty package caches (a new machine), then again in a second fresh clone with the caches
# the first one filled (a machine that installed before). Goal: under 60 s from empty caches.
#
#   benchmarks/setup_bench.sh           uv (what `make install` uses when it can)
#   benchmarks/setup_bench.sh --pip     the pip fallback (DATIVO_INSTALLER=pip)
#   make bench-setup                    the first
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
installer=uv
[[ "${1:-}" == --pip ]] && installer=pip
GOAL_SECONDS=60
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export UV_CACHE_DIR="$work/uv-cache" PIP_CACHE_DIR="$work/pip-cache" DATIVO_INSTALLER="$installer"

one_demo() {  # $1: clone folder; prints the wall seconds of `make demo`
    git clone -q "$repo" "$1"
    local start end
    start="$(date +%s.%N)"
    if ! make -s -C "$1" demo >"$1.log" 2>&1; then
        tail -20 "$1.log" >&2
        echo "setup_bench: make demo failed (log above)" >&2
        exit 2
    fi
    end="$(date +%s.%N)"
    python3 -c "print(f'{$end - $start:.1f}')"
}

cold="$(one_demo "$work/fresh")"
grep -q "succeeded" "$work/fresh.log" || { echo "setup_bench: the demo job did not succeed" >&2; exit 2; }
warm="$(one_demo "$work/again")"
echo "make demo from a fresh clone ($installer, $(nproc) cores): ${cold} s with empty caches, ${warm} s with filled caches"
if python3 -c "import sys; sys.exit(0 if $cold < $GOAL_SECONDS else 1)"; then
    echo "goal: under ${GOAL_SECONDS} s from empty caches: met"
else
    echo "goal: under ${GOAL_SECONDS} s from empty caches: MISSED"
    exit 1
fi
