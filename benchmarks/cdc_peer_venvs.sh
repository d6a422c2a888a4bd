#!/usr/bin/env bash
# Venvs of the log-based CDC peers of benchmarks/cdc_peers_bench.py, one per program, pinned,
# under benchmarks/ (gitignored: benchmarks/.*-venv/):
#   .cdc-tap-postgres-venv  MeltanoLabs tap-postgres (singer-sdk; LOG_BASED reads wal2json)
#   .cdc-target-csv-venv    MeltanoLabs target-csv (singer-sdk; the package index has no Singer
#                           Iceberg target, so the Singer pipe writes CSV)
#   .cdc-dlt-venv           dlt with the filesystem destination and pyiceberg, psycopg2 (what
#                           dlt's verified `pg_replication` source imports) and psycopg 3 (what
#                           dlt's sql_database opens for its snapshot); the source itself is not
#                           on the package index: pass the `sources` folder of a checkout of
#                           dlt's verified sources to the benchmark with --dlt-sources
#
# Idempotent: a venv is (re)built only when its stamp (.installed) does not hold its spec.
#   bash benchmarks/cdc_peer_venvs.sh        # prints "<name> <venv>" per peer
# Env: PEER_PYTHON (interpreter for the venvs; default python3.11, else python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PEER_PYTHON:-}"
if [[ -z "$python" ]]; then
  python="$(command -v python3.11 || command -v python3)"
fi

# name | pip requirements (pinned, space-separated) | program the benchmark calls
PEERS=(
  "tap-postgres|meltanolabs-tap-postgres==0.10.0|tap-postgres"
  "target-csv|meltanolabs-target-csv==0.5.0|target-csv"
  "dlt|dlt[filesystem,pyiceberg,sql_database]==1.31.0 psycopg2-binary==2.9.10 psycopg[binary]==3.3.9|python"
)

install_one() {
  local name="$1" spec="$2" exe="$3" venv="$here/.cdc-$1-venv"
  if [[ -f "$venv/.installed" && "$(cat "$venv/.installed")" == "$spec" && -x "$venv/bin/$exe" ]]; then
    return 0
  fi
  echo "cdc_peer_venvs: installing $spec into $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # shellcheck disable=SC2086  # the spec is a list of requirements
  "$venv/bin/python" -m pip install -q --disable-pip-version-check $spec >"$venv/pip.log" 2>&1 ||
    { tail -n 20 "$venv/pip.log" >&2; echo "cdc_peer_venvs: pip install $spec failed" >&2; return 1; }
  [[ -x "$venv/bin/$exe" ]] || { echo "cdc_peer_venvs: $spec installed no $exe" >&2; return 1; }
  printf '%s' "$spec" >"$venv/.installed"
}

for row in "${PEERS[@]}"; do
  IFS='|' read -r name spec exe <<<"$row"
  install_one "$name" "$spec" "$exe"
  echo "$name $here/.cdc-$name-venv"
done
