"""Crash trials for every pipeline: each source (CSV, PostgreSQL and MariaDB on the fast path and
the RECORD path, the Stripe, HubSpot and Google Drive emulators, Markdown-KV files) into Iceberg
and into S3 objects (SeaweedFS).

Each trial grows the source (new rows with a larger replication key, new emulator objects, new
files), starts `dativo run` in its own session, waits until the tap runs, waits a seeded random
extra moment and stops the run by one of: SIGKILL to the whole process group, SIGTERM to the
runner, SIGKILL to the runner alone, SIGKILL to the tap, SIGKILL to the target. After every trial
no process of the run is left and no key landed twice; after a final clean rerun every key the
source holds is there exactly once.

`postgres-partitions` runs the slices of a partitioned job (``order_id % 3``,
``DATIVO_CRASH_PARTITIONS``) side by side, each with its own bookmark, into one table or one
object prefix, and stops one of them: the others commit through optimistic concurrency and
succeed; after the reruns (one per slice) every row is there once.

Two trials into Iceberg only: `csv-edit` edits one 16,000-row file before every trial, so each run
reloads it (its new rows staged and swapped for the old ones in one snapshot) and is stopped
during the reload; `csv-two-writers` starts two runs of one job with their own state folders (two
workers with empty state folders) and stops one of them. In both a reader polls the table during
every trial and never sees fewer rows than the table held when the trial began; after the reruns
every row is there once (and, for `csv-edit`, only in the file's last version).

Knobs: `DATIVO_CRASH_TRIALS` trials per pipeline (`make test-crash`: 20 over every pipeline);
unset, `make test` runs one trial of each of the pipelines in DEFAULT_PIPELINES (every run costs
seconds). `DATIVO_CRASH_PIPELINES` (comma-separated ids such as `mysql-fast-to-objects`, or `all`)
picks the pipelines; `DATIVO_CRASH_SEED` changes the draw.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.helpers import crash, objects
from tests.helpers.crash_sources import ICEBERG_ONLY, SOURCES, open_source
from tests.helpers.crash_targets import (
    PROGRAMS,
    TARGETS,
    iceberg_block,
    iceberg_keys,
    object_keys,
    objects_block,
    orphans_only_unnamed,
)
from tests.helpers.project import Project

pytestmark = pytest.mark.integration

PIPELINES = [(source, target) for source in SOURCES for target in TARGETS] + [
    (source, "iceberg") for source in ICEBERG_ONLY
]
# Three ways, a reload and two writers (which also covers csv-to-iceberg's single writer).
DEFAULT_PIPELINES = (
    "csv-two-writers-to-iceberg,postgres-fast-to-objects,stripe-to-objects,csv-edit-to-iceberg,"
    "postgres-partitions-to-iceberg"
)


def _selected(source: str, target: str) -> bool:
    chosen = os.environ.get("DATIVO_CRASH_PIPELINES") or (
        "all" if os.environ.get("DATIVO_CRASH_TRIALS") else DEFAULT_PIPELINES
    )
    return chosen == "all" or f"{source}-to-{target}" in chosen.split(",")


@pytest.mark.parametrize(("source_name", "target_name"), PIPELINES, ids=[f"{s}-to-{t}" for s, t in PIPELINES])
def test_every_way_of_stopping_a_run_then_rerunning_gives_each_row_once(
    project: Project, request: Any, source_name: str, target_name: str
) -> None:
    if not _selected(source_name, target_name):
        pytest.skip("not in DATIVO_CRASH_PIPELINES (make test-crash runs every pipeline)")
    with open_source(source_name, project, request) as source:
        if target_name == "iceberg":
            block = iceberg_block(source.batch_rows)
            landed = iceberg_keys(project, f"acme.{source.job['asset']}", source.key)
        else:
            prefix = objects.unique_prefix(f"crash-{source_name}")
            block = objects_block(prefix, source.batch_rows)
            landed = object_keys(prefix, source.key, source.cursor)
        job = project.write_job("crash", {**source.job, **block})
        pipeline = crash.Pipeline(
            name=f"{source_name}->{target_name}",
            project=project,
            job=job,
            tap=source.tap,
            target=PROGRAMS[target_name],
            landed=landed,
            grow=source.grow,
            expected=source.expected,
            env=source.env,
            args=source.args,
            max_delay=source.max_delay,
            writers=source.writers,
            partitions=source.partitions,
            reader=source.reader,
            final_check=source.final_check,
        )
        # csv-edit shifted by two: the default selection stops a run by a group kill, a tap kill,
        # a SIGTERM and a target kill.
        offset = PIPELINES.index((source_name, target_name)) + (2 if source_name == "csv-edit" else 0)
        crash.run_trials(pipeline, crash.trials(), offset=offset)
        if target_name == "objects" and source_name == "csv":
            named, removed = orphans_only_unnamed(project, str(job), prefix)
            print(f"{pipeline.name}: {named} files named by manifests, {removed} orphans removed")
