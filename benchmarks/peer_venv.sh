#!/usr/bin/env bash
# Create benchmarks/.peer-venv with the peer target of the benchmark: MeltanoLabs'
# singer-sdk based CSV target. On the package index it is `meltanolabs-target-csv`
# (console script `target-csv`); the index's plain `target-csv` is the older singer-io
# target that does not use singer-sdk, so it is not the peer we want.
#
# Idempotent: does nothing when the venv already has the pinned version.
#   bash benchmarks/peer_venv.sh            # prints the path of the target-csv script
# Env: PEER_PYTHON (interpreter for the venv; default python3.11, else python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.peer-venv"
package="meltanolabs-target-csv"
version="0.5.0"

python="${PEER_PYTHON:-}"
if [[ -z "$python" ]]; then
  python="$(command -v python3.11 || command -v python3)"
fi

installed() {
  [[ -x "$venv/bin/target-csv" ]] &&
    [[ "$("$venv/bin/python" -m pip show "$package" 2>/dev/null | sed -n 's/^Version: //p')" == "$version" ]]
}

if ! installed; then
  echo "peer_venv: installing $package==$version into $venv" >&2
  [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "$package==$version" >&2
  installed || { echo "peer_venv: install failed" >&2; exit 1; }
fi
echo "$venv/bin/target-csv"
