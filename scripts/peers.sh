#!/usr/bin/env bash
# Peer Singer programs for the interop tests (tests/interop/), each in its own venv under
# .peers/<name> (ignored by git), so no peer's dependencies touch the project's venv.
#
#   scripts/peers.sh install           create the missing venvs of PEERS (quick when present)
#   scripts/peers.sh install NAME...   create those named, from PEERS or ON_REQUEST
#   scripts/peers.sh list              print "<name> <pip spec> <status>"
#   scripts/peers.sh clean             remove .peers/
#
# A venv is (re)built only when its stamp file (.peers/<name>/.installed) does not hold the
# spec below, so changing a pin reinstalls that peer and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
PEERS_DIR="${DATIVO_PEERS_DIR:-$ROOT/.peers}"
PYTHON="${PYTHON:-python3}"

# name | pip requirement (pinned) | executable the tests call
PEERS=(
  "meltano|meltano==4.4.1|meltano"
  "target-csv|meltanolabs-target-csv==0.5.0|target-csv"
  "target-jsonl|target-jsonl==0.1.4|target-jsonl"
  "tap-postgres|meltanolabs-tap-postgres==0.10.0|tap-postgres"
  "tap-jsonl|tap-jsonl==0.3.1|tap-jsonl"
  "target-postgres|meltanolabs-target-postgres==0.8.1|target-postgres"
)
# Installed only when named: dlt for benchmarks/cdc_peers_bench.py (with psycopg2, which dlt's
# verified `pg_replication` source imports, and psycopg 3, which its sql_database snapshot opens).
ON_REQUEST=(
  "dlt-cdc|dlt[filesystem,pyiceberg,sql_database]==1.31.0 psycopg2-binary==2.9.10 psycopg[binary]==3.3.9|python"
)

install_one() {
  local name="$1" spec="$2" exe="$3" venv="$PEERS_DIR/$1"
  if [[ -f "$venv/.installed" && "$(cat "$venv/.installed")" == "$spec" && -x "$venv/bin/$exe" ]]; then
    return 0
  fi
  echo "peers: installing $spec into ${venv#"$ROOT"/}" >&2
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  local requirements
  read -ra requirements <<< "$spec"  # one or more pinned requirements
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${requirements[@]}" \
    > "$PEERS_DIR/$name.log" 2>&1 || { cat "$PEERS_DIR/$name.log" >&2; echo "peers: error: pip install $spec failed" >&2; return 1; }
  [[ -x "$venv/bin/$exe" ]] || { echo "peers: error: $spec installed no $exe" >&2; return 1; }
  printf '%s' "$spec" > "$venv/.installed"
}

cmd="${1:-install}"
case "$cmd" in
  install)
    mkdir -p "$PEERS_DIR"
    shift
    rows=("${PEERS[@]}")
    if (($#)); then
      rows=()
      for wanted in "$@"; do
        found=""
        for row in "${PEERS[@]}" "${ON_REQUEST[@]}"; do
          [[ "${row%%|*}" == "$wanted" ]] && found="$row"
        done
        [[ -n "$found" ]] || { echo "peers: error: no peer named $wanted" >&2; exit 2; }
        rows+=("$found")
      done
    fi
    pids=()
    for row in "${rows[@]}"; do
      IFS='|' read -r name spec exe <<< "$row"
      install_one "$name" "$spec" "$exe" & pids+=("$!")
    done
    failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    exit "$failed"
    ;;
  list)
    for row in "${PEERS[@]}" "${ON_REQUEST[@]}"; do
      IFS='|' read -r name spec exe <<< "$row"
      status=missing
      [[ -f "$PEERS_DIR/$name/.installed" && "$(cat "$PEERS_DIR/$name/.installed")" == "$spec" ]] && status=installed
      echo "$name $spec $status"
    done
    ;;
  clean)
    rm -rf "$PEERS_DIR"
    ;;
  *)
    echo "usage: scripts/peers.sh install [NAME...]|list|clean" >&2
    exit 2
    ;;
esac
