"""Crash trials for the object target: `dativo run` of a CSV job to S3 (SeaweedFS) stopped at a
seeded random moment in every way a run is stopped, then rerun: read through the manifests, every
row is there exactly once, and the files of killed runs are only ever orphans no manifest names.

Opt-in (each trial is a full run): `DATIVO_OBJECT_CRASH_TRIALS=20 pytest
tests/integration/test_object_crash_trials.py`; `DATIVO_CRASH_SEED` changes the draw.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections import Counter

import pytest

from tests.helpers import objects
from tests.helpers.project import Project
from tests.integration.test_crash_trials import WAYS, _child, _no_orphans
from tests.integration.test_exactly_once import _write_big_csv

pytestmark = pytest.mark.integration

TRIALS = int(os.environ.get("DATIVO_OBJECT_CRASH_TRIALS") or 0)
SEED = int(os.environ.get("DATIVO_CRASH_SEED") or 20261128)
ROWS_PER_FILE = 8_000


def _stop(run: subprocess.Popen[str], way: str) -> bool:
    if run.poll() is not None:
        return False
    if way == "group-kill":
        os.killpg(run.pid, 9)
    elif way == "runner-sigterm":
        os.kill(run.pid, 15)
    elif way == "runner-kill":
        os.kill(run.pid, 9)
    else:
        pid = _child(run.pid, "tap-csv" if way == "tap-kill" else "target-objects")
        if pid is None:
            return False
        os.kill(pid, 9)
    return True


@pytest.mark.skipif(TRIALS == 0, reason="opt-in: set DATIVO_OBJECT_CRASH_TRIALS")
def test_every_way_of_stopping_a_run_to_s3_then_rerunning_gives_each_row_once(project: Project) -> None:
    rng = random.Random(SEED)
    bucket = objects.s3_bucket()
    sw = objects.services.seaweedfs()
    prefix = objects.unique_prefix("crash")
    connection = {
        "bucket": bucket.name,
        "prefix": prefix,
        "endpoint": sw.s3_endpoint,
        "region": sw.region,
        "access_key_id": sw.access_key,
        "secret_access_key": sw.secret_key,
    }
    job = project.write_job(
        "deals",
        project.deals_job(
            target_connector="s3",
            target_connector_path="connectors/targets/s3.yaml",
            target={
                "format": "jsonl",
                "batch": {"rows": 2000},
                "file": {"max_rows": 1500},
                "connection": {"s3": connection},
            },
        ),
    )
    root = f"{prefix}/acme/deals"
    written = 0
    outcomes: Counter[str] = Counter()
    for trial in range(TRIALS):
        _write_big_csv(project, f"part-{trial:03d}.csv", written + 1, ROWS_PER_FILE)
        written += ROWS_PER_FILE
        way = WAYS[trial % len(WAYS)]
        run = subprocess.Popen(
            [sys.executable, "-m", "dativo_runner", "run", "--config", str(job), "--home", str(project.root)],
            cwd=project.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.8, 3.0))
        stopped = _stop(run, way)
        run.communicate(timeout=120)
        _no_orphans(run.pid)
        outcomes[f"{way}:{'stopped' if stopped else 'finished'}"] += 1
        ids = [r["deal_id"] for r in objects.rows(bucket, root, key="deal_id") or []]
        assert len(ids) == len(set(ids)), f"trial {trial} ({way}): duplicates"

    final = project.dativo("run", "--config", str(job))
    assert final.returncode == 0, final.stderr
    ids = [r["deal_id"] for r in objects.rows(bucket, root, key="deal_id") or []]
    assert ids == list(range(1, written + 1)), outcomes
    entries = [f for m in objects.manifests(bucket, root) for f in m["files"]]
    named = {f["key"] for f in entries}
    data = [k for k in bucket.keys(root + "/") if "/_manifests/" not in k]
    print(f"{TRIALS} trials {dict(outcomes)}; {len(named)} named files, {len(data) - len(named)} orphans")
    done = project.dativo("maintain", "--config", str(job), "--older-than-hours", "0")
    assert done.returncode == 0, done.stderr
    assert sorted(k for k in bucket.keys(root + "/") if "/_manifests/" not in k) == sorted(named)
