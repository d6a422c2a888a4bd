"""A kept source mark reaches the next check only with the bookmark, the target's committed
bookmark and the plan it was saved with; the PostgreSQL check uses it only on the same database
and table and while the server's transaction counter is within 2^30 after it; the plan digest
holds no password."""

from __future__ import annotations

from pathlib import Path

from dativo_runner.plugins.sources.postgres_changes import _usable, _window_start
from dativo_runner.source_marks import kept_mark, mark_path, plan_digest, save_mark

STATE = {"bookmarks": {"orders": {"replication_key": "updated_at", "replication_key_value": "2026-01-02"}}}
MARK = {"xmin": 1000, "database": 5, "table": 7}


def test_a_mark_comes_back_only_with_its_bookmark_commit_and_plan(tmp_path: Path) -> None:
    path = mark_path(tmp_path / "job.json")
    assert path.name == ".job.source-mark.json"
    save_mark(path, "orders", STATE, "plan-a", MARK)
    assert kept_mark(path, "orders", STATE, STATE, "plan-a") == MARK
    assert kept_mark(path, "orders", STATE, STATE, "plan-b") is None  # job, asset or policy changed
    assert kept_mark(path, "orders", STATE, None, "plan-a") is None  # the table keeps no bookmark
    moved = {"bookmarks": {"orders": {**STATE["bookmarks"]["orders"], "replication_key_value": "2026-01-03"}}}
    assert kept_mark(path, "orders", moved, moved, "plan-a") is None  # another commit since
    assert kept_mark(path, "orders", moved, STATE, "plan-a") is None  # a state set over the table's
    assert kept_mark(path, "orders", None, STATE, "plan-a") is None  # a reset
    path.write_text("not json")
    assert kept_mark(path, "orders", STATE, STATE, "plan-a") is None


def test_the_plan_digest_changes_with_the_plan_and_not_with_the_password() -> None:
    config = {"host": "h", "user": "u", "password": "s3cret", "tables": {"orders": "public.orders"}}
    catalog = {"streams": []}
    same = plan_digest({**config, "password": "other"}, catalog)
    assert plan_digest(config, catalog) == same
    assert plan_digest({**config, "lookback_days": 2}, catalog) != same
    assert "s3cret" not in plan_digest(config, catalog)


def test_a_mark_is_used_only_on_its_table_and_near_the_server_s_counter() -> None:
    assert _usable(MARK, {**MARK, "xmin": 1000 + (1 << 30) - 1})
    assert not _usable(MARK, {**MARK, "xmin": 1000 + (1 << 30)})  # too old: ids may have wrapped
    assert not _usable(MARK, {**MARK, "xmin": 999})  # the counter went back: another server
    assert not _usable(MARK, {**MARK, "table": 8})  # the table was dropped and made again
    assert not _usable(MARK, {**MARK, "database": 6})
    assert not _usable(None, MARK)


def test_the_checked_window_is_a_day_wider_than_the_tap_s() -> None:
    assert "interval '2 days'" in str(_window_start({"type": "string", "format": "date-time"}, 1))
    assert "- 1)" in str(_window_start({"type": ["string", "null"], "format": "date"}, 0))
    assert _window_start({"type": "integer"}, 0) == "%(bookmark)s::numeric"
    assert _window_start({"type": "integer"}, 3) is None  # a look-back on a number: not compared
    assert _window_start({"type": "string"}, 0) is None  # a text cursor: not compared
