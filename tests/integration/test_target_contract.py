"""Behaviour every Dativo target owes its runner, whatever it writes to.

Parametrized over targets; each is described by a ``TargetUnderTest``: how to build its config in
a temporary folder, how to read a stream's rows back, its committed bookmark and its number of
commits. target-iceberg on the embedded catalog; target-objects on SeaweedFS (S3), its rows read
back through its manifests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from target_iceberg.bookmark import latest_bookmark
from target_iceberg.catalog import open_catalog
from target_iceberg.tables import load_table_or_none

from dativo_singer.commit_report import parse_commit_report
from tests.helpers import objects
from tests.helpers.singer import TARGET, emitted_states, encode, records, schema, state

pytestmark = pytest.mark.integration

Config = dict[str, Any]


@dataclass(frozen=True)
class TargetUnderTest:
    """A target as the contract sees it."""

    name: str
    command: list[str]
    make_config: Callable[[Path], Config]
    read_rows: Callable[[Config, str], list[dict[str, Any]] | None]  # None: nothing landed
    committed_bookmark: Callable[[Config, str], dict[str, Any] | None]
    commits: Callable[[Config, str], int]

    def dead_letters(self, config: Config) -> list[dict[str, Any]]:
        folder = Path(config["dead_letter_dir"])
        return [
            json.loads(line) for p in sorted(folder.rglob("*.jsonl")) for line in p.read_text().splitlines()
        ]


def _iceberg_table(config: Config, stream: str) -> Any:
    return load_table_or_none(open_catalog(config), f"{config['namespace']}.{stream}")


def _iceberg_rows(config: Config, stream: str) -> list[dict[str, Any]] | None:
    table = _iceberg_table(config, stream)
    return None if table is None else sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])


def _iceberg_bookmark(config: Config, stream: str) -> dict[str, Any] | None:
    table = _iceberg_table(config, stream)
    found = latest_bookmark(table) if table is not None else None
    return json.loads(found[0]) if found else None


def _iceberg_commits(config: Config, stream: str) -> int:
    table = _iceberg_table(config, stream)
    return 0 if table is None else len(table.snapshots())


ICEBERG = TargetUnderTest(
    name="target-iceberg",
    command=TARGET,
    make_config=lambda tmp: {
        "warehouse_dir": str(tmp / "wh"),
        "namespace": "contract",
        "dead_letter_dir": str(tmp / "dead"),
    },
    read_rows=_iceberg_rows,
    committed_bookmark=_iceberg_bookmark,
    commits=_iceberg_commits,
)


def _objects_config(tmp: Path) -> Config:
    bucket = objects.s3_bucket()
    sw = objects.services.seaweedfs()
    return {
        "storage": "s3",
        "bucket": bucket.name,
        "prefix": objects.unique_prefix("contract"),
        "tenant": "contract",
        "endpoint": sw.s3_endpoint,
        "region": sw.region,
        "access_key_id": sw.access_key,
        "secret_access_key": sw.secret_key,
        "path_style": True,
        "dead_letter_dir": str(tmp / "dead"),
    }


def _objects_rows(config: Config, stream: str) -> list[dict[str, Any]] | None:
    return objects.rows(objects.bucket_of(config), objects.stream_root(config, stream))


def _objects_bookmark(config: Config, stream: str) -> dict[str, Any] | None:
    found = objects.manifests(objects.bucket_of(config), objects.stream_root(config, stream))
    return found[-1]["state"] if found else None


def _objects_commits(config: Config, stream: str) -> int:
    return len(objects.manifests(objects.bucket_of(config), objects.stream_root(config, stream)))


OBJECTS = TargetUnderTest(
    name="target-objects",
    command=[sys.executable, "-c", "from target_objects.target import main; main()"],
    make_config=_objects_config,
    read_rows=_objects_rows,
    committed_bookmark=_objects_bookmark,
    commits=_objects_commits,
)


@pytest.fixture(params=[ICEBERG, OBJECTS], ids=lambda t: t.name)
def target(request: pytest.FixtureRequest) -> TargetUnderTest:
    return request.param  # type: ignore[no-any-return]


PROPS = {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}}


def _messages(start: int, end: int, every: int) -> list[dict[str, Any]]:
    """A tap resuming after ``start``: rows start+1..end with a STATE after every ``every``."""
    messages = [schema("items", PROPS, ["id"])]
    for first in range(start + 1, end + 1, every):
        last = min(first + every - 1, end)
        messages += [*records("items", [{"id": i, "name": f"n{i}"} for i in range(first, last + 1)])]
        messages.append(state({"pos": last}))
    return messages


def _run(target: TargetUnderTest, config: Config, messages: list[dict[str, Any]], tmp: Path) -> Any:
    config_path = tmp / "config.json"
    config_path.write_text(json.dumps(config))
    result = subprocess.run(
        [*target.command, "--config", str(config_path)],
        input=encode(messages, compact=True),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_state_is_emitted_only_after_its_commit(target: TargetUnderTest, tmp_path: Path) -> None:
    config = {**target.make_config(tmp_path), "batch_size_rows": 3}
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.Popen(
        [*target.command, "--config", str(tmp_path / "config.json")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(encode(_messages(0, 3, 3), compact=True))
    proc.stdin.flush()
    first = json.loads(proc.stdout.readline())  # blocks until the target emits it (its value)
    # At the moment the STATE is visible, the rows it covers and the bookmark are committed.
    assert first == {"pos": 3}
    assert [r["id"] for r in target.read_rows(config, "items") or []] == [1, 2, 3]
    assert target.committed_bookmark(config, "items") == {"pos": 3}
    proc.stdin.write(encode(_messages(3, 4, 1)[1:], compact=True))  # under the threshold
    proc.stdin.close()
    rest = [json.loads(line) for line in proc.stdout.read().splitlines()]
    assert proc.wait(timeout=120) == 0
    assert rest == [{"pos": 4}]  # at end of input, after the commit
    assert target.committed_bookmark(config, "items") == {"pos": 4}


@pytest.mark.parametrize("kill_after_states", [1, 3])
def test_exactly_once_after_a_sigkill_and_a_rerun_from_the_emitted_state(
    target: TargetUnderTest, tmp_path: Path, kill_after_states: int
) -> None:
    total, every = 20_000, 1_000
    config = {**target.make_config(tmp_path), "batch_size_rows": 2_000}
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.Popen(
        [*target.command, "--config", str(tmp_path / "config.json")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def feed() -> None:
        try:
            stdin.write(encode(_messages(0, total, every), compact=True).encode())
            stdin.close()
        except (BrokenPipeError, OSError):
            pass  # killed while we were writing

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    emitted = []
    for line in proc.stdout:
        emitted.append(json.loads(line))
        if len(emitted) == kill_after_states:
            os.kill(proc.pid, signal.SIGKILL)
            break
    assert proc.wait(timeout=120) == -signal.SIGKILL, "the target ended before the kill"
    feeder.join(timeout=60)
    assert emitted, "no STATE before the kill"
    assert emitted[-1]["pos"] < total

    resume = emitted[-1]["pos"]
    _run(target, config, _messages(resume, total, every), tmp_path)

    ids = [r["id"] for r in target.read_rows(config, "items") or []]
    assert ids == list(range(1, total + 1))  # sorted: every id exactly once
    assert target.committed_bookmark(config, "items") == {"pos": total}


def test_rejected_records_are_dead_lettered_and_counted(target: TargetUnderTest, tmp_path: Path) -> None:
    config = target.make_config(tmp_path)
    rows = [{"id": 1, "name": "ok"}, {"id": "two", "name": "bad id"}, {"id": 3}, {"name": "no id"}]
    messages = [schema("items", PROPS, ["id"]), *records("items", rows[:3]), state({"pos": 3})]
    result = _run(target, config, messages, tmp_path)

    assert [r["id"] for r in target.read_rows(config, "items") or []] == [1, 3]
    letters = target.dead_letters(config)
    assert [(d["record"]["id"], d["reason"]) for d in letters] == [
        ("two", "field 'id': 'two' is not a valid int64")
    ]
    reports = [r for r in map(parse_commit_report, result.stderr.splitlines()) if r is not None]
    assert sum(r.dead_letter_rows for r in reports) == 1
    assert sum(r.rows for r in reports) == 2
    assert emitted_states(result) == [{"pos": 3}]


def test_schema_update_mid_stream(target: TargetUnderTest, tmp_path: Path) -> None:
    config = target.make_config(tmp_path)
    wider = {**PROPS, "score": {"type": ["number", "null"]}}
    messages = [
        schema("items", PROPS, ["id"]),
        *records("items", [{"id": 1, "name": "a"}]),
        schema("items", wider, ["id"]),
        *records("items", [{"id": 2, "name": "b", "score": 2.5}]),
        state({"pos": 2}),
    ]
    _run(target, config, messages, tmp_path)
    assert target.read_rows(config, "items") == [
        {"id": 1, "name": "a", "score": None},
        {"id": 2, "name": "b", "score": 2.5},
    ]


def test_a_state_without_rows_is_held_where_the_data_is_once(target: TargetUnderTest, tmp_path: Path) -> None:
    config = target.make_config(tmp_path)
    _run(target, config, _messages(0, 2, 2), tmp_path)
    commits = target.commits(config, "items")

    # The tap moved its bookmark but had no new rows: the STATE is emitted and held.
    result = _run(
        target, config, [schema("items", PROPS, ["id"]), state({"pos": 2, "seen": "later"})], tmp_path
    )
    assert emitted_states(result) == [{"pos": 2, "seen": "later"}]
    assert target.committed_bookmark(config, "items") == {"pos": 2, "seen": "later"}
    assert target.commits(config, "items") == commits + 1

    # A rerun with nothing new at all adds no commit.
    _run(target, config, [schema("items", PROPS, ["id"]), state({"pos": 2, "seen": "later"})], tmp_path)
    assert target.commits(config, "items") == commits + 1
    assert [r["id"] for r in target.read_rows(config, "items") or []] == [1, 2]


def test_all_rejected_records_still_move_the_bookmark_and_dead_letter_once(
    target: TargetUnderTest, tmp_path: Path
) -> None:
    config = target.make_config(tmp_path)
    _run(target, config, _messages(0, 2, 2), tmp_path)
    bad = [schema("items", PROPS, ["id"]), *records("items", [{"id": "x"}, {"id": "y"}]), state({"pos": 4})]
    result = _run(target, config, bad, tmp_path)

    assert emitted_states(result) == [{"pos": 4}]
    assert target.committed_bookmark(config, "items") == {"pos": 4}
    assert sorted(d["record"]["id"] for d in target.dead_letters(config)) == ["x", "y"]
    assert len(list(Path(config["dead_letter_dir"]).rglob("*.jsonl"))) == 1
    assert [r["id"] for r in target.read_rows(config, "items") or []] == [1, 2]


def test_a_stream_without_rows_creates_nothing(target: TargetUnderTest, tmp_path: Path) -> None:
    """Decided: nothing is created without rows, so such a stream's bookmark is not stored
    (docs/COMMIT_REPORT.md); its STATE is still emitted."""
    config = target.make_config(tmp_path)
    result = _run(target, config, [schema("items", PROPS, ["id"]), state({"pos": 0})], tmp_path)
    assert emitted_states(result) == [{"pos": 0}]
    assert target.read_rows(config, "items") is None
    assert target.committed_bookmark(config, "items") is None


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_terminated_target_commits_nothing_more_and_exits_non_zero(
    target: TargetUnderTest, tmp_path: Path, signum: int
) -> None:
    """singer-sdk's own handler drains every sink and exits 0; a Dativo target stops at once."""
    config = {**target.make_config(tmp_path), "batch_size_rows": 100}
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.Popen(
        [*target.command, "--config", str(tmp_path / "config.json")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    covered = encode([*_messages(0, 100, 100)], compact=True)
    uncovered = encode(records("items", [{"id": i, "name": "late"} for i in range(101, 151)]), compact=True)
    proc.stdin.write((covered + uncovered).encode())
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline()) == {"pos": 100}  # the first 100 are committed
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err.decode()[-2000:]
    assert "stopping without committing" in err.decode()
    ids = [r["id"] for r in target.read_rows(config, "items") or []]
    assert ids == list(range(1, 101))


def test_records_after_the_last_state_land_with_it_at_a_clean_end_of_input(
    target: TargetUnderTest, tmp_path: Path
) -> None:
    """Singer's convention: a clean end of input commits everything received, with the last
    STATE (a tap may send its last STATE long before its last record)."""
    config = target.make_config(tmp_path)
    late = records("items", [{"id": i, "name": "late"} for i in range(31, 41)])
    result = _run(target, config, [*_messages(0, 30, 10), *late], tmp_path)
    assert "after the last STATE" not in result.stderr
    assert emitted_states(result)[-1] == {"pos": 30}
    assert target.committed_bookmark(config, "items") == {"pos": 30}
    assert [r["id"] for r in target.read_rows(config, "items") or []] == list(range(1, 41))


def test_commit_at_state_only_leaves_records_after_the_last_state_and_fails(
    target: TargetUnderTest, tmp_path: Path
) -> None:
    """``commit_records_after_last_state: false`` (what `dativo run` sets): input that ends
    without a STATE covering its last records may be a runner that died. They are left for the
    rerun from that STATE, which reads them again (no duplicates), and the target says so with
    a non-zero exit rather than a warning."""
    config = {**target.make_config(tmp_path), "commit_records_after_last_state": False}
    late = records("items", [{"id": i, "name": "late"} for i in range(31, 41)])
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = subprocess.run(
        [*target.command, "--config", str(tmp_path / "config.json")],
        input=encode([*_messages(0, 30, 10), *late], compact=True),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "error: 10 record(s) came after the last STATE and were not committed" in result.stderr
    assert emitted_states(result)[-1] == {"pos": 30}
    assert [r["id"] for r in target.read_rows(config, "items") or []] == list(range(1, 31))

    rerun = _run(target, config, _messages(30, 40, 10), tmp_path)  # the tap resumes after pos 30
    assert emitted_states(rerun)[-1] == {"pos": 40}
    assert [r["id"] for r in target.read_rows(config, "items") or []] == list(range(1, 41))


@pytest.mark.parametrize("setting", [None, False])
def test_a_tap_without_state_is_committed_in_full(
    target: TargetUnderTest, tmp_path: Path, setting: bool | None
) -> None:
    """No STATE at all: no bookmark to protect, everything lands in either mode."""
    config = target.make_config(tmp_path)
    if setting is not None:
        config["commit_records_after_last_state"] = setting
    late = records("items", [{"id": i, "name": "late"} for i in range(31, 41)])
    result = _run(target, config, [schema("items", PROPS, ["id"]), *late], tmp_path)
    assert "after the last STATE" not in result.stderr
    assert [r["id"] for r in target.read_rows(config, "items") or []] == list(range(31, 41))
