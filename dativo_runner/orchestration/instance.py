"""The Dagster instance of `dativo start orchestrated`: ``dagster.yaml`` and ``workspace.yaml``.

Kept in a persistent ``DAGSTER_HOME`` (default ``<state folder>/.dagster``): run history, schedule
ticks and the run queue survive restarts. Storage is SQLite there unless the runner YAML names
PostgreSQL; telemetry is off; the run queue admits ``concurrency_per_tenant`` runs per tenant
pool (every run of a tenant's assets, however started) and per ``dativo/tenant`` tag, one run
per ``dativo/asset`` tag (the runs of a scheduled job) and ``max_parallel_partitions`` per
``dativo/table`` tag (the partition runs of a partitioned job).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path
from typing import Any

import yaml

from dativo_runner.orchestration.definitions import ASSET_TAG, TABLE_TAG, TENANT_TAG, tenant_pool
from dativo_runner.orchestration.runner_yaml import RunnerConfig

MODULE = "dativo_runner.orchestration"
LOCATION = "dativo"
_PLAIN_POSTGRES = re.compile(r"^postgres(ql)?://")
DEQUEUE_INTERVAL_SECONDS = 1
CODE_SERVER_STARTUP_SECONDS = 600


def instance_config(config: RunnerConfig) -> dict[str, Any]:
    """The content of ``dagster.yaml``."""
    limit = config.concurrency_per_tenant
    storage: dict[str, Any]
    if config.postgres is None:
        storage = {"sqlite": {"base_dir": str(config.dagster_home / "storage")}}
    elif config.postgres.url_env:
        storage = {"postgres": {"postgres_url": {"env": config.postgres.url_env}}}
    else:
        storage = {"postgres": {"postgres_url": psycopg2_url(str(config.postgres.url))}}
    return {
        "telemetry": {"enabled": False},
        "storage": storage,
        "run_queue": {  # launch admitted runs side by side, not one per daemon tick
            "dequeue_interval_seconds": DEQUEUE_INTERVAL_SECONDS,
            "dequeue_use_threads": True,
            "dequeue_num_workers": 4,
        },
        # Hundreds of schedules due in one minute: evaluate their ticks side by side.
        "schedules": {"use_threads": True, "num_workers": 4},
        # A code location of hundreds of jobs on a busy machine can take minutes to load; past
        # Dagster's default 180 s every queued run would be failed.
        "code_servers": {"local_startup_timeout": CODE_SERVER_STARTUP_SECONDS},
        "concurrency": {
            "runs": {
                "tag_concurrency_limits": [
                    {"key": TENANT_TAG, "limit": limit, "value": {"applyLimitPerUniqueValue": True}},
                    {"key": ASSET_TAG, "limit": 1, "value": {"applyLimitPerUniqueValue": True}},
                    {
                        "key": TABLE_TAG,  # a partitioned table's partitions side by side
                        "limit": config.max_parallel_partitions,
                        "value": {"applyLimitPerUniqueValue": True},
                    },
                ]
            },
            # Every asset op is in its tenant's pool: a run of any origin waits in the queue while
            # its tenant has concurrency_per_tenant runs in progress.
            "pools": {"default_limit": limit, "granularity": "run"},
        },
        "local_artifact_storage": {
            "module": "dagster._core.storage.root",
            "class": "LocalArtifactStorage",
            "config": {"base_dir": str(config.dagster_home)},
        },
    }


def workspace_config(config: RunnerConfig) -> dict[str, Any]:
    """The content of ``workspace.yaml``: this package as the code location ``dativo``, and the
    code servers of other machines (a run launched on one of them runs on its machine)."""
    local = {
        "python_module": {
            "module_name": MODULE,
            "working_directory": str(config.home.root),
            "location_name": LOCATION,
        }
    }
    remote = [
        {"grpc_server": {"host": server.host, "port": server.port, "location_name": server.name}}
        for server in config.code_servers
    ]
    return {"load_from": [local, *remote]}


def write_instance(config: RunnerConfig) -> Path:
    """Make or refresh ``DAGSTER_HOME`` (its storage is kept); returns the workspace file."""
    home = config.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    for name, content in (
        ("dagster.yaml", instance_config(config)),
        ("workspace.yaml", workspace_config(config)),
    ):
        path = home / name
        temporary = path.with_suffix(".tmp")
        temporary.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        os.replace(temporary, path)
    pools = sorted({tenant_pool(s.tenant_id) for s in config.schedules})
    _create_storage(home, pools, config.concurrency_per_tenant)
    return home / "workspace.yaml"


def _create_storage(dagster_home: Path, pools: list[str], limit: int) -> None:
    """Create or migrate the storage once, before the webserver and the daemon both open it
    (two processes creating a new SQLite storage at once can stamp its schema twice), and set
    each tenant pool's limit: a pool the run queue meets for the first time is not limited in
    that pass, so runs queued at once before it existed would all be admitted."""
    from dagster import DagsterInstance

    instance = DagsterInstance.from_config(str(dagster_home))
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # its migration notes are not ours to print
            instance.upgrade(print_fn=lambda text: None)
        storage = instance.event_log_storage
        known = storage.get_concurrency_keys()  # from an earlier start, or another machine's
        for pool in pools:  # to concurrency_per_tenant, followed when it changes
            if pool in known:
                # An existing pool is set, not initialized: Dagster's initialization inserts
                # first, which on PostgreSQL aborts the transaction its update then needs.
                storage.set_concurrency_slots(pool, limit)
            else:
                storage.initialize_concurrency_limit_to_default(pool)
    finally:
        instance.dispose()


def psycopg2_url(url: str) -> str:
    """A PostgreSQL URL with the psycopg2 driver: Dagster's PostgreSQL storage sends
    ``NOTIFY run_events, %(id)s``, which psycopg 3 (SQLAlchemy's default for ``postgresql://``)
    binds on the server and PostgreSQL refuses, so every event write would fail."""
    return _PLAIN_POSTGRES.sub("postgresql+psycopg2://", url, count=1)


def process_environment(config: RunnerConfig) -> dict[str, str]:
    """The environment of the webserver and the daemon (and so of every run they start); the
    storage URL variable, if any, names the psycopg2 driver."""
    env = {
        **os.environ,
        "DAGSTER_HOME": str(config.dagster_home),
        "DATIVO_HOME": str(config.home.root),
        "DATIVO_RUNNER_CONFIG": str(config.file),
    }
    variable = config.postgres.url_env if config.postgres is not None else None
    if variable and variable in env:
        env[variable] = psycopg2_url(env[variable])
    return env
