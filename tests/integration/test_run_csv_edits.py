"""`dativo run` on CSV files that grow, are edited or fixed between runs: every row lands once,
an edited file's rows replace its earlier rows, with or without a primary key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.helpers.project import Project
from tests.integration.test_exactly_once import _ids, _write_big_csv

pytestmark = pytest.mark.integration


def _rows(project: Project) -> list[dict[str, object]]:
    from target_iceberg.catalog import open_catalog

    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.csv_deals")
    return table.scan(selected_fields=("deal_id", "deal_name")).to_arrow().to_pylist()


def _later(path: Path) -> None:
    stamp = path.stat().st_mtime_ns + 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def _job(project: Project, keyed: bool) -> Path:
    job = project.deals_job(target={"batch": {"rows": 1000}})
    if not keyed:
        asset = project.root / "assets/csv/v1.0/deals.yaml"
        data = yaml.safe_load(asset.read_text())
        del data["asset"]["primary_key"]
        asset.write_text(yaml.safe_dump(data, sort_keys=False))
    return project.write_job("deals", job)


@pytest.mark.parametrize("keyed", [True, False])
def test_a_grown_file_adds_only_its_new_rows(project: Project, keyed: bool) -> None:
    _write_big_csv(project, "a.csv", 1, 5000)
    job = _job(project, keyed)
    assert project.dativo("run", "--config", str(job)).returncode == 0
    path = project.root / "data/deals/a.csv"
    with path.open("a") as handle:
        handle.write("5001,Deal 5001,C,proposal,1.25,USD,0.5,false,o@example.com,2024-01-01T00:00:00Z,\n")
    _later(path)
    code, summary, stderr = project.run_json("--config", str(job))
    assert code == 0, stderr
    assert summary["streams"][0]["rows"] == 1
    assert sorted(_ids(project)) == list(range(1, 5002))


@pytest.mark.parametrize("keyed", [True, False])
def test_an_edited_file_replaces_its_rows(project: Project, keyed: bool) -> None:
    _write_big_csv(project, "a.csv", 1, 3000)
    _write_big_csv(project, "b.csv", 3001, 100)
    job = _job(project, keyed)
    assert project.dativo("run", "--config", str(job)).returncode == 0
    path = project.root / "data/deals/a.csv"
    text = (
        path.read_text()
        .replace("\n7,Deal 7,", "\n7,Deal seven,")
        .replace("\n2999,Deal 2999,C", "\n2999,Deal 2999,C")
    )
    lines = text.splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not line.startswith("12,")))  # one row removed
    _later(path)
    code, _, stderr = project.run_json("--config", str(job))
    assert code == 0, stderr
    rows = {r["deal_id"]: r["deal_name"] for r in _rows(project)}
    assert len(_ids(project)) == 3099  # each row once: 2,999 of a.csv's new version + 100 of b.csv
    assert rows[7] == "Deal seven" and 12 not in rows and rows[3050] == "Deal 3050"


def test_a_file_fixed_after_a_failed_run_lands_exactly_once(project: Project) -> None:
    _write_big_csv(project, "a.csv", 1, 30000)
    path = project.root / "data/deals/a.csv"
    good = path.read_text()
    path.write_text(good.replace("\n25000,Deal 25000,", "\n25000,Deal,25000,", 1))  # one field too many
    job = _job(project, keyed=False)
    failed = project.dativo("run", "--config", str(job))
    assert failed.returncode == 2, failed.stderr
    assert "line 25001" in failed.stderr and "fields" in failed.stderr, failed.stderr
    committed = len(_ids(project))
    assert 0 < committed < 25000  # the tap sends a STATE every 10,000 rows
    path.write_text(good)
    _later(path)
    assert project.dativo("run", "--config", str(job)).returncode == 0
    assert sorted(_ids(project)) == list(range(1, 30001))


def test_a_deleted_files_rows_stay(project: Project) -> None:
    _write_big_csv(project, "a.csv", 1, 100)
    _write_big_csv(project, "b.csv", 101, 100)
    job = _job(project, keyed=True)
    assert project.dativo("run", "--config", str(job)).returncode == 0
    (project.root / "data/deals/b.csv").unlink()
    assert project.dativo("run", "--config", str(job)).returncode == 0
    assert sorted(_ids(project)) == list(range(1, 201))


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_renamed_or_copied_file_is_recognised_by_its_content(project: Project, fast_path: bool) -> None:
    _write_big_csv(project, "a.csv", 1, 910)
    job = project.deals_job(target={"batch": {"rows": 1000}})
    job["source"]["fast_path"] = fast_path
    path = project.write_job("deals", job)
    assert project.dativo("run", "--config", str(path)).returncode == 0
    folder = project.root / "data/deals"
    (folder / "a.csv").rename(folder / "b.csv")
    code, summary, stderr = project.run_json("--config", str(path), "-v")
    assert code == 0, stderr
    assert summary["streams"][0]["rows"] == 0
    assert "b.csv: same content as" in stderr and "a.csv, already loaded" in stderr
    (folder / "c.csv").write_bytes((folder / "b.csv").read_bytes())  # a copy: the same content
    code, summary, stderr = project.run_json("--config", str(path))
    assert code == 0 and summary["streams"][0]["rows"] == 0, stderr
    ids = _ids(project)
    assert sorted(ids) == list(range(1, 911))
    state = (project.root / "state/acme/deals.json").read_text()
    assert "a.csv" not in state and "b.csv" in state and "c.csv" in state


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_rewrite_with_the_same_size_and_time_is_read_again(project: Project, fast_path: bool) -> None:
    _write_big_csv(project, "a.csv", 1, 300)
    job = project.deals_job(target={"batch": {"rows": 1000}})
    job["source"]["fast_path"] = fast_path
    path = project.write_job("deals", job)
    assert project.dativo("run", "--config", str(path)).returncode == 0
    csv = project.root / "data/deals/a.csv"
    before = csv.stat()
    text = csv.read_text().replace("Deal 7,", "Lead 7,")  # same length
    csv.write_text(text)
    os.utime(csv, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert csv.stat().st_size == before.st_size and csv.stat().st_mtime_ns == before.st_mtime_ns
    code, _summary, stderr = project.run_json("--config", str(path))
    assert code == 0, stderr
    rows = {r["deal_id"]: r["deal_name"] for r in _rows(project)}
    assert len(rows) == 300 and len(_ids(project)) == 300
    assert rows[7] == "Lead 7" and rows[8] == "Deal 8"


def test_an_edited_files_reload_is_one_snapshot_for_readers(project: Project) -> None:
    """A reader polling the table while an edited file is reloaded, and the reload killed half
    way, never sees fewer (or more) rows than the table held before the run."""
    import signal
    import subprocess
    import sys
    import threading
    import time

    from target_iceberg.catalog import open_catalog

    from tests.helpers.crash import child

    rows = 40_000
    _write_big_csv(project, "a.csv", 1, rows)
    job = _job(project, keyed=False)
    assert project.dativo("run", "--config", str(job)).returncode == 0
    csv = project.root / "data/deals/a.csv"
    csv.write_text(csv.read_text().replace("\n1,Deal 1,", "\n1,Edited 1,", 1))
    _later(csv)

    seen: list[int] = []
    done = threading.Event()

    def read() -> None:
        catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
        while not done.is_set():
            try:
                table = catalog.load_table("acme.csv_deals")
                seen.append(table.scan(selected_fields=("deal_id",)).to_arrow().num_rows)
            except Exception:  # the SQLite catalog busy with a commit: read again
                pass
            time.sleep(0.02)

    reader = threading.Thread(target=read)
    reader.start()
    run = subprocess.Popen(
        [sys.executable, "-m", "dativo_runner", "run", "--config", str(job), "--home", str(project.root), "-v"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    collector = threading.Thread(target=lambda: lines.extend(run.stderr or []))
    collector.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and run.poll() is None:
        written = sum("rows committed" in line or "Staged 1000 rows" in line for line in lines)
        if written >= 5:  # five of the reload's 1,000-row batches committed, or staged
            pid = child(run.pid, "target-iceberg")
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    run.wait(timeout=120)
    collector.join()
    assert run.returncode == 2 and "killed by SIGKILL" in "".join(lines), lines[-5:]
    time.sleep(0.3)
    done.set()
    reader.join()
    assert len(seen) > 3 and set(seen) == {rows}, sorted(set(seen))
    assert len(_ids(project)) == rows  # the old version whole: nothing of the reload committed

    assert project.dativo("run", "--config", str(job)).returncode == 0
    landed = {r["deal_id"]: r["deal_name"] for r in _rows(project)}
    assert len(_ids(project)) == rows and landed[1] == "Edited 1" and landed[2] == "Deal 2"


@pytest.mark.parametrize("fast_path", [True, False])
def test_rows_repeating_a_primary_key_in_one_run_land_once_the_later_wins(
    project: Project, fast_path: bool
) -> None:
    """Within one file, and across commits of one run (3,000 rows, 1,000 per commit): the later
    row of a key lands, counted in the summary; keys of earlier runs are left as they are."""
    rows = [f"{i},Deal {i},C,proposal,1.25,USD,0.5,false,o@example.com,2024-01-01T00:00:00Z," for i in range(1, 3001)]
    rows[1] = rows[1].replace("2,Deal 2,", "1,Again 1,")  # key 1 twice in the first batch
    rows[2500] = rows[2500].replace("2501,Deal 2501,", "5,Later 5,")  # key 5 again, commits later
    project.write_deals("a.csv", rows)
    job = project.deals_job(target={"batch": {"rows": 1000}})
    job["source"]["fast_path"] = fast_path
    path = project.write_job("deals", job)
    code, summary, stderr = project.run_json("--config", str(path))
    assert code == 0, stderr
    landed = {r["deal_id"]: r["deal_name"] for r in _rows(project)}
    ids = _ids(project)
    assert len(ids) == len(set(ids)) == 2998
    assert landed[1] == "Again 1" and landed[5] == "Later 5" and 2 not in landed and 2501 not in landed
    assert summary["streams"][0]["replaced_key_rows"] == 2
    text = project.dativo("run", "--config", str(path)).stdout  # nothing new: the text summary
    assert "repeated a primary key" not in text
