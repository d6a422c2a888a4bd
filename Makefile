# Dativo: `make demo` runs the demo job, `make test` runs the whole suite (installing what it needs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COMPILED := $(VENV)/.compiled

.PHONY: install demo bench-setup test test-unit test-smoke test-integration test-crash test-faults test-soak test-machines test-security test-interop interop-matrix peers schema-validate lint services services-stop bench bench-small bench-orchestration bench-cdc-peers clean reference docker-lock

install: $(STAMP) $(COMPILED)

# With uv when it can be had (fetched from PyPI with pip if missing), else pip: scripts/install_venv.sh.
$(STAMP): pyproject.toml dativo_singer/pyproject.toml $(wildcard taps/*/pyproject.toml targets/*/pyproject.toml)
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/install_venv.sh '.[dev]'
	touch $(STAMP)

# Every installed module's bytecode, as pip writes it at install (uv does not): the suite starts
# hundreds of processes, and with PYTHONDONTWRITEBYTECODE set none would ever be cached.
$(COMPILED): $(STAMP)
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/install_venv.sh --compile
	touch $(COMPILED)

# The packages only: the demo's first run writes the bytecode of what it imports, even when
# PYTHONDONTWRITEBYTECODE is set (benchmarks/README.md: the first setup).
demo: $(STAMP)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/dativo run --config jobs/acme/csv_deals_to_iceberg.yaml
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/dativo show --config jobs/acme/csv_deals_to_iceberg.yaml --limit 5

# Two workers: most test time is spent waiting on subprocesses and local servers (TEST_WORKERS=0: serial).
TEST_WORKERS ?= 2
test: install schema-validate services peers
	$(PY) -m pytest -q -ra -n $(TEST_WORKERS) --dist worksteal --durations=15

test-unit: install
	$(PY) -m pytest -q tests/unit tests/standard

test-integration: install services
	$(PY) -m pytest -q -ra tests/integration

# Real Singer peers and Meltano, each in its own venv under .peers/ (docs/SINGER_INTEROP.md).
peers:
	PYTHON=$(PYTHON) scripts/peers.sh install

test-interop: install services peers
	$(PY) -m pytest -q -ra tests/interop

# The interop matrix of docs/SINGER_INTEROP.md, regenerated (about 1 minute; not part of make test).
interop-matrix: install services peers
	$(PY) -m tests.interop.matrix --write docs/SINGER_INTEROP.md

# The database pairs of the matrix at 1,000,000 rows (INTEROP_ROWS; INTEROP_PAIRS="pg-jsonl ..." runs
# some: pg-jsonl pg-postgres my-jsonl my-postgres peer-pg-iceberg),
# every cell compared; tens of minutes on 2 cores, not part of make test (docs/SINGER_INTEROP.md).
INTEROP_ROWS ?= 1000000
.PHONY: interop-matrix-1m
interop-matrix-1m: install services peers
	$(PY) -m tests.interop.matrix_large --rows $(INTEROP_ROWS) --write docs/SINGER_INTEROP.md \
		$(foreach p,$(INTEROP_PAIRS),--pair $(p))

# Every security case (docs/RELIABILITY.md, "Security"): all standalone bad-settings configs.
test-security: install services
	DATIVO_SECURITY_FULL=1 $(PY) -m pytest -q -ra tests/integration/test_secrets_never_leak.py \
		tests/integration/test_tenant_isolation.py tests/integration/test_sql_identifier_injection.py \
		tests/integration/test_google_query_escaping.py tests/integration/test_settings_bad_input_corpus.py \
		tests/integration/test_tenant_ownership.py tests/integration/test_secrets_never_names.py \
		tests/integration/test_paths_confined.py tests/integration/test_bounded_yaml.py \
		tests/integration/test_redaction_short_secrets.py

test-crash: install services
	DATIVO_CRASH_TRIALS=$${DATIVO_CRASH_TRIALS:-20} $(PY) -m pytest -q -ra -n $(TEST_WORKERS) --durations=20 tests/integration/test_crash_trials.py

# Services failing mid-run (docs/RELIABILITY.md): every case, private service instances for those
# restarted or stopped; `make test` runs a fast subset of them.
test-faults: install services
	DATIVO_FAULTS=full $(PY) -m pytest -q -ra -s -m faults --durations=30 tests/integration

# tap-stripe pip-installed alone into a clean venv, and by Meltano from its pip_url (libraries from
# the package index), then run against the Stripe emulator (docs/PACKAGING.md); about a minute,
# not part of make test.
.PHONY: test-dist bench-dist
test-dist: install peers
	DATIVO_DIST_TEST=1 $(PY) -m pytest -q -ra tests/integration/test_connector_install.py \
		tests/interop/test_meltano_installs_alone.py

# Install size of tap-stripe alone beside a peer's (PEER_SRC: a checkout of it; benchmarks/README.md).
bench-dist: install
	$(PY) benchmarks/dist_size_bench.py --peer-src $(PEER_SRC) $(BENCH_DIST_ARGS)

# 30 consecutive incremental runs of every source with maintenance every 5th run, and orchestrated
# runs terminated or interrupted by a killed dagster-daemon (docs/RELIABILITY.md).
test-soak: install services
	DATIVO_SOAK_RUNS=$${DATIVO_SOAK_RUNS:-30} $(PY) -m pytest -q -ra -n $(TEST_WORKERS) --dist worksteal \
		tests/integration/test_soak.py tests/integration/test_orchestration_interrupts.py

# Two Dagster workers with their own DAGSTER_HOME and state folder on one PostgreSQL storage,
# REST catalog and S3 store, and a partitioned job's backfill side by side through a real daemon
# (docs/ORCHESTRATION.md, "Past one machine"): a few minutes.
test-machines: install services
	DATIVO_MACHINES=1 $(PY) -m pytest -q -ra -n $(TEST_WORKERS) tests/integration/test_orchestration_machines.py \
		tests/integration/test_orchestration_backfill.py

test-smoke: install
	$(BIN)/dativo run --job-dir tests/fixtures/jobs --secrets-dir tests/fixtures/secrets \
		--state-dir .dativo/smoke-state

schema-validate: install
	$(BIN)/dativo validate --all --no-secrets
	$(BIN)/dativo validate --job-dir jobs --no-secrets

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy dativo_runner dativo_singer taps targets

services: install
	scripts/services.sh install
	scripts/services.sh start

services-stop:
	scripts/services.sh stop

bench: install services
	$(PY) benchmarks/run_target_bench.py
	$(PY) benchmarks/csv_bench.py
	$(PY) benchmarks/db_bench.py

# Each goal of a small run (nothing new, 1,000 new rows, --job-dir of the demo jobs) beside --always-start.
bench-small: install services
	$(PY) benchmarks/small_runs_bench.py

# 200 scheduled jobs of 20 tenants through `dativo start orchestrated` (benchmarks/README.md).
bench-orchestration: install services
	$(PY) benchmarks/orchestration_bench.py

# Log-based CDC beside MeltanoLabs tap-postgres LOG_BASED and dlt's pg_replication (benchmarks/README.md).
# DLT_SOURCES: the `sources` folder of a checkout of dlt's verified sources.
bench-cdc-peers: install services
	scripts/peers.sh install tap-postgres target-csv dlt-cdc
	$(PY) benchmarks/cdc_peers_bench.py --dlt-sources $(DLT_SOURCES) $(BENCH_CDC_PEERS_ARGS)

# `make demo` in two fresh clones of HEAD, from empty then filled package caches (benchmarks/README.md).
bench-setup:
	benchmarks/setup_bench.sh

clean:
	rm -rf warehouse state .dativo

# Generated references: docs/reference/connectors/*.md (each program's --about) and CONFIGURATION.md.
reference: install
	$(PY) scripts/gen_reference.py

# The image's pinned dependencies (docs/DOCKER.md): resolved for Python 3.11 on Linux x86_64.
docker-lock: install
	$(PY) scripts/docker_lock.py
