"""Killing the target at any moment and rerunning gives no lost and no duplicated rows."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from target_iceberg.bookmark import latest_bookmark
from target_iceberg.catalog import open_catalog

from tests.helpers.crash import child
from tests.helpers.crash_sources import write_big_csv as _write_big_csv
from tests.helpers.project import Project

pytestmark = pytest.mark.integration

ROWS = 60_000


def _target_pid(dativo_pid: int) -> int | None:
    return child(dativo_pid, "target-iceberg")


def _ids(project: Project) -> list[int]:
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.csv_deals")
    return table.scan(selected_fields=("deal_id",)).to_arrow().column("deal_id").to_pylist()


def _start(project: Project, job: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dativo_runner", "run", "--config", str(job), "--home", str(project.root)],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("kill_after_commits,delay", [(1, 0.0), (1, 0.15), (2, 0.05)])
def test_killed_target_then_rerun_loses_and_repeats_nothing(
    project: Project, kill_after_commits: int, delay: float
) -> None:
    _write_big_csv(project, "big.csv", 1, ROWS)
    job = project.write_job("deals", project.deals_job(target={"batch": {"rows": 5000}}))

    run = _start(project, job)
    assert run.stderr is not None
    commits = 0
    for line in run.stderr:
        if "rows committed" in line:
            commits += 1
            if commits == kill_after_commits:
                time.sleep(delay + random.random() * 0.05)
                pid = _target_pid(run.pid)
                assert pid is not None, "target process not found"
                os.kill(pid, signal.SIGKILL)
                break
    run.communicate(timeout=120)
    assert run.returncode == 2, "the killed run must fail"
    partial = _ids(project)
    assert 0 < len(partial) < ROWS
    assert len(partial) == len(set(partial))

    rerun = project.dativo("run", "--config", str(job))
    assert rerun.returncode == 0, rerun.stderr
    ids = _ids(project)
    assert len(ids) == ROWS
    assert set(ids) == set(range(1, ROWS + 1))


@pytest.mark.parametrize("clock", ["older", "newer"])
def test_state_file_behind_the_table_is_reconciled_by_content(project: Project, clock: str) -> None:
    """The table's committed bookmark wins over a stale state file whatever the file's clock says
    (a file copied from another host can be newer than the commit it lags behind)."""
    project.write_deals("a.csv", ["1,A,A,proposal,1.00,USD,0.5,false,a@x.io,2024-01-01T00:00:00Z,"])
    job = project.write_job("deals", project.deals_job())
    assert project.dativo("run", "--config", str(job)).returncode == 0
    state_file = project.root / "state" / "acme" / "deals.json"
    lagging = state_file.read_text()

    project.write_deals("b.csv", ["2,B,B,proposal,2.00,USD,0.5,false,b@x.io,2024-01-01T00:00:00Z,"])
    assert project.dativo("run", "--config", str(job)).returncode == 0
    # As if the runner died after the second commit, before saving the STATE that followed it.
    state_file.write_text(lagging)
    stamp = time.time() + (3600 if clock == "newer" else -3600)
    os.utime(state_file, (stamp, stamp))

    result = project.dativo("run", "--config", str(job))
    assert result.returncode == 0, result.stderr
    assert "resuming from the target's committed bookmark" in result.stderr
    assert sorted(_ids(project)) == [1, 2]
    assert "b.csv" in state_file.read_text()

    # Now the file and the table agree: nothing to say.
    again = project.dativo("run", "--config", str(job))
    assert again.returncode == 0 and "resuming" not in again.stderr


def test_a_host_with_an_empty_state_folder_resumes_from_the_table(project: Project) -> None:
    project.write_deals("a.csv", ["1,A,A,proposal,1.00,USD,0.5,false,a@x.io,2024-01-01T00:00:00Z,"])
    job = project.write_job("deals", project.deals_job())
    assert project.dativo("run", "--config", str(job)).returncode == 0
    code, summary, stderr = project.run_json("--config", str(job), "--state-dir", "elsewhere")
    assert code == 0, stderr
    assert summary["streams"][0]["rows"] == 0
    assert "missing; resuming from the target's committed bookmark" in stderr
    assert sorted(_ids(project)) == [1]
    assert "a.csv" in (project.root / "elsewhere" / "acme" / "deals.json").read_text()


def test_long_runs_report_records_read(project: Project) -> None:
    _write_big_csv(project, "big.csv", 1, 20_000)
    job = project.write_job("deals", project.deals_job())
    result = project.dativo("run", "--config", str(job), env={"DATIVO_PROGRESS_SECONDS": "0.01"})
    assert result.returncode == 0, result.stderr
    reports = [line for line in result.stderr.splitlines() if "records read" in line]
    assert reports, result.stderr
    counts = [int(line.split("] ")[1].split(" records")[0].replace(",", "")) for line in reports]
    assert counts == sorted(counts) and 0 < counts[-1] <= 20_000


def test_overwrite_killed_midway_keeps_the_old_table_and_the_rerun_replaces_it(project: Project) -> None:
    _write_big_csv(project, "old.csv", 900_001, 10)
    # The RECORD path streams 60,000 rows for seconds: a wide window to kill the target in the
    # middle of the overwrite (the fast path can be done before the first progress line).
    source = {**project.deals_job()["source"], "fast_path": False}
    job = project.write_job(
        "deals",
        project.deals_job(source=source, target={"write_mode": "overwrite", "batch": {"rows": 5000}}),
    )
    assert project.dativo("run", "--config", str(job)).returncode == 0
    assert sorted(_ids(project)) == list(range(900_001, 900_011))

    (project.root / "data" / "deals" / "old.csv").unlink()
    _write_big_csv(project, "big.csv", 1, ROWS)
    run = subprocess.Popen(
        [sys.executable, "-m", "dativo_runner", "run", "--config", str(job), "--home", str(project.root)],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "DATIVO_PROGRESS_SECONDS": "0.05"},
    )
    assert run.stderr is not None
    for line in run.stderr:
        if "records read" in line and int(line.split("] ")[1].split(" records")[0].replace(",", "")) > 20_000:
            pid = _target_pid(run.pid)
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            break
    run.communicate(timeout=120)
    assert run.returncode == 2
    assert sorted(_ids(project)) == list(range(900_001, 900_011))  # untouched by the killed run

    rerun = project.dativo("run", "--config", str(job))
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(_ids(project)) == list(range(1, ROWS + 1))

    # Overwrite is a full refresh: the next run reads every file again and replaces, no repeats.
    again = project.dativo("run", "--config", str(job))
    assert again.returncode == 0, again.stderr
    assert sorted(_ids(project)) == list(range(1, ROWS + 1))


@pytest.mark.parametrize("files", [1, 4])
def test_two_runs_of_one_job_with_empty_state_folders_land_every_row_once(
    project: Project, files: int
) -> None:
    """Two workers with their own state folders start the same job at once (as two machines
    would): the table's bookmark arbitrates, so no row lands twice; the loser stops with nothing
    of its commit written, and its rerun continues from the table."""
    per_file = ROWS // 2 // files
    for index in range(files):
        _write_big_csv(project, f"part-{index}.csv", 1 + index * per_file, per_file)
    total = per_file * files
    job = project.write_job("deals", project.deals_job(target={"batch": {"rows": 3000}}))

    def start(folder: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "dativo_runner", "run", "--config", str(job)]
        return subprocess.Popen(
            [*command, "--home", str(project.root), "--state-dir", folder],
            cwd=project.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    runs = [start("state-a"), start("state-b")]
    outcomes = [(run.wait(timeout=300), run.communicate()[1]) for run in runs]
    for code, stderr in outcomes:
        assert code in (0, 2), stderr
        if code == 2:
            assert "another run committed to acme.csv_deals since this run started" in stderr, stderr
    assert 0 in [code for code, _ in outcomes]
    ids = _ids(project)
    assert len(ids) == len(set(ids)) and len(ids) <= total

    for folder in ("state-a", "state-b"):  # either worker's next run completes the table
        again = project.dativo("run", "--config", str(job), "--state-dir", folder)
        assert again.returncode == 0, again.stderr
    ids = _ids(project)
    assert sorted(ids) == list(range(1, total + 1))


def test_a_tap_that_dies_past_its_last_state_commits_nothing_past_it(project: Project) -> None:
    """`dativo run` closes the target's input only once the tap exited 0 (a standalone target
    commits everything at a clean end of input): a tap that sent records after its last STATE
    and then failed must leave them uncommitted, for the rerun to read once."""
    _write_big_csv(project, "a.csv", 1, 12_000)  # tap-csv sends a STATE every 10,000 records
    good = [
        f"{i},Deal {i},Company,proposal,1.25,USD,0.5,false,o@example.com,2024-01-01T00:00:00Z,"
        for i in range(12_001, 12_501)
    ]
    project.write_deals("b.csv", [*good, "12501,a row,with,too,few,fields"])  # the tap fails here
    source = {**project.deals_job()["source"], "fast_path": False}  # record by record
    job = project.write_job("deals", project.deals_job(source=source, target={"batch": {"rows": 5000}}))

    failed = project.dativo("run", "--config", str(job))
    assert failed.returncode == 2, failed.stderr[-3000:]
    assert "tap-csv failed" in failed.stderr and "b.csv" in failed.stderr
    ids = _ids(project)
    assert sorted(ids) == list(range(1, 10_001)), "only what the tap's last STATE covers"
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.csv_deals")
    found = latest_bookmark(table)
    assert found is not None
    state_file = project.root / "state" / "acme" / "deals.json"
    assert json.loads(state_file.read_text()) == json.loads(found[0])

    project.write_deals("b.csv", good)
    rerun = project.dativo("run", "--config", str(job))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    ids = _ids(project)
    assert len(ids) == 12_500 and set(ids) == set(range(1, 12_501))
