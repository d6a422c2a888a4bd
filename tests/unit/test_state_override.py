"""The pieces of `dativo state` that need no server: which bookmark a run resumes from (the reset
marker over the committed bookmark), bookmarks in words, and the per-job lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from dativo_runner.errors import ConfigError
from dativo_runner.job_lock import JobLock, is_held, lock_path
from dativo_runner.state_override import OVERRIDE_KEY, mark, resume_point, split
from dativo_runner.state_report import describe

COMMITTED = {
    "bookmarks": {"orders": {"replication_key": "updated_at", "replication_key_value": "2024-06-01"}}
}


def test_committed_bookmark_wins_over_a_plain_state_file() -> None:
    stale = {"bookmarks": {"orders": {"replication_key_value": "2024-01-01"}}}
    assert resume_point(stale, COMMITTED).source == "committed"
    assert resume_point(None, COMMITTED).state == COMMITTED
    assert resume_point(stale, None).source == "state_file"
    assert resume_point(None, None).source == "none"


def test_a_reset_marker_wins_until_the_target_commits_again() -> None:
    reset = mark({"bookmarks": {}}, "reset", ["orders"], COMMITTED, "state/acme/.backups/x.json")
    point = resume_point(reset, COMMITTED)
    assert point.source == "override" and point.state == {"bookmarks": {}}  # the tap never sees the marker
    assert point.override is not None and point.override.backup == "state/acme/.backups/x.json"
    newer = {"bookmarks": {"orders": {"replication_key_value": "2024-07-01"}}}
    later = resume_point(reset, newer)
    assert later.source == "committed" and later.state == newer and later.superseded
    # A target that keeps no bookmark yet: the marker names none, and still holds.
    assert resume_point(mark({"bookmarks": {}}, "set", [], None, None), None).source == "override"


def test_split_strips_the_marker_and_tolerates_a_bad_one() -> None:
    state, override = split({"bookmarks": {}, OVERRIDE_KEY: "garbage"})
    assert state == {"bookmarks": {}} and override is None
    assert split(None) == (None, None)


def test_bookmarks_in_words() -> None:
    files = {"files": {"/d/a.csv": {"rows": 2, "version": "ab12", "done": True}, "/d/b.csv": {"rows": 5}}}
    lines = describe(files)
    assert lines[0] == "2 file(s), 1 read to the end"
    assert "  /d/a.csv: 2 rows, version ab12, read to the end" in lines
    assert "  /d/b.csv: 5 rows, partly read" in lines
    assert describe(COMMITTED["bookmarks"]["orders"]) == ['replication key updated_at = "2024-06-01"']
    assert describe(None) == ["no bookmark (the stream is read from the start)"]
    marker = describe(
        {"progress_markers": {"Note": "x"}, "replication_key": "id", "replication_key_value": 3}
    )
    assert marker[0] == "replication key id = 3" and "progress marker" in marker[1]


def test_the_job_lock_is_exclusive_and_leaves_no_file(tmp_path: Path) -> None:
    path = lock_path(tmp_path / "acme" / "deals.json")
    assert path.name == ".deals.lock" and not is_held(path)
    with JobLock(path, "state/acme/.deals.lock"):
        assert is_held(path)
        with pytest.raises(ConfigError, match=r"state/acme/\.deals\.lock: a run of this job is in progress"):
            JobLock(path, "state/acme/.deals.lock").acquire()
    assert not path.exists() and not is_held(path)
