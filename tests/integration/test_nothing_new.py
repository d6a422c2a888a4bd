"""A run whose source has nothing new starts neither the tap nor the target, and leaves exactly
what a run that starts them leaves: the same table snapshot, the same state file; anything new
(a grown, renamed, added or same-size-same-time rewritten file) still runs the pipe."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.helpers.project import REPO, Project
from tests.integration.test_exactly_once import _ids, _write_big_csv

pytestmark = pytest.mark.integration

SKIPPED = "deals: nothing new since the last run; tap and target not started"
MARKDOWN_SKIPPED = "employees: nothing new since the last run; tap and target not started"
MARKDOWN_DOCS = "data/markdown_kv/employees"
MARKDOWN_JOB = "jobs/acme/markdown_kv_employees_to_iceberg.yaml"


def _run(project: Project, job: Path, *flags: str) -> tuple[dict[str, object], str]:
    code, summary, stderr = project.run_json("--config", str(job), *flags)
    assert code == 0, stderr
    return summary["streams"][0], stderr


def test_nothing_new_skips_the_pipe_and_leaves_what_the_pipe_leaves(project: Project) -> None:
    _write_big_csv(project, "a.csv", 1, 2000)
    _write_big_csv(project, "b.csv", 2001, 500)
    job = project.write_job("deals", project.deals_job())
    first, _ = _run(project, job)
    state_file = project.root / "state/acme/deals.json"
    state_after_load = state_file.read_bytes()

    skipped, stderr = _run(project, job)
    assert SKIPPED in stderr
    started, stderr_started = _run(project, job, "--always-start")
    assert SKIPPED not in stderr_started
    for stream in (skipped, started):  # no rows, the table untouched, the same pointers
        assert stream["rows"] == 0
        assert stream["snapshot_id"] == first["snapshot_id"]
        assert stream["metadata_location"] == first["metadata_location"]
    assert state_file.read_bytes() == state_after_load
    assert sorted(_ids(project)) == list(range(1, 2501))


def test_anything_new_still_runs_the_pipe(project: Project) -> None:
    _write_big_csv(project, "a.csv", 1, 1000)
    job = project.write_job("deals", project.deals_job())
    _run(project, job)
    folder = project.root / "data/deals"

    _write_big_csv(project, "b.csv", 1001, 10)  # a new file
    stream, stderr = _run(project, job)
    assert SKIPPED not in stderr and stream["rows"] == 10

    (folder / "b.csv").rename(folder / "b-renamed.csv")  # same content, new name: read, not landed
    stream, stderr = _run(project, job)
    assert SKIPPED not in stderr and stream["rows"] == 0
    assert SKIPPED in _run(project, job)[1]  # the rename is in the state now

    path = folder / "a.csv"  # rewritten with the same size and modification time
    before = path.stat()
    path.write_text(path.read_text().replace("\n7,Deal 7,", "\n7,Deal 9,"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    stream, stderr = _run(project, job)
    assert SKIPPED not in stderr and stream["rows"] == 1000
    assert sorted(_ids(project)) == list(range(1, 1011))


def test_markdown_kv_files_unchanged_skip_the_pipe(project: Project) -> None:
    """The Markdown-KV source answers like its tap skips a file: read to the end, same size and
    modification time. Skipped or started, the table and state are the same; a touched file
    (same content) runs the pipe, which lands nothing and records the new time; an edited one
    lands its rows."""
    shutil.copytree(REPO / MARKDOWN_DOCS, project.root / MARKDOWN_DOCS)
    job = project.write("jobs/acme/employees.yaml", (REPO / MARKDOWN_JOB).read_text())
    first, _ = _run(project, job)
    assert first["rows"] == 3
    state_file = project.root / "state/acme/employees.json"
    state_after_load = state_file.read_bytes()

    skipped, stderr = _run(project, job)
    assert MARKDOWN_SKIPPED in stderr
    started, stderr_started = _run(project, job, "--always-start")
    assert MARKDOWN_SKIPPED not in stderr_started
    for stream in (skipped, started):
        assert stream["rows"] == 0
        assert stream["snapshot_id"] == first["snapshot_id"]
        assert stream["metadata_location"] == first["metadata_location"]
    assert state_file.read_bytes() == state_after_load

    path = project.root / MARKDOWN_DOCS / "sales.md"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    stream, stderr = _run(project, job)  # touched: read, content unchanged, new time kept
    assert MARKDOWN_SKIPPED not in stderr and stream["rows"] == 0
    assert state_file.read_bytes() != state_after_load
    assert MARKDOWN_SKIPPED in _run(project, job)[1]

    path.write_text(path.read_text().replace("Sales", "Field Sales"))
    stream, stderr = _run(project, job)
    assert MARKDOWN_SKIPPED not in stderr and stream["rows"] == 1
