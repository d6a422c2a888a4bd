"""A state file that cannot be read or saved stops the run before anything is read or written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.project import Project

pytestmark = pytest.mark.integration

ROW = "1,A,A,proposal,1.00,USD,0.5,false,a@x.io,2024-01-01T00:00:00Z,"


def _state_file(project: Project) -> Path:
    return project.root / "state" / "acme" / "deals.json"


def _put(content: bytes) -> Callable[[Project], str]:
    def put(project: Project) -> str:
        path = _state_file(project)
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
        return "state/acme/deals.json"

    return put


def _folder(project: Project) -> str:
    _state_file(project).mkdir(parents=True)
    return "state/acme/deals.json"


def _under_a_file(project: Project) -> str:
    (project.root / "state").write_text("not a folder")
    return "state/acme/deals.json"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_put(b"[]"), "not a Singer state (a JSON list)"),
        (_put(b'{"foo": {"bar": 1}}'), "not a Singer state (an object without 'bookmarks')"),
        (_put(b'{"bookmarks": "x"}'), "not a Singer state"),
        (_put(b"\x89PNG\r\n\x1a\n\x00\x00garbage"), "state file is not valid JSON"),
        (_folder, "state file is a folder"),
        (_under_a_file, "state file cannot be written"),
    ],
)
def test_bad_state_is_exit_2_naming_the_file_and_nothing_is_written(
    project: Project, make: Callable[[Project], str], message: str
) -> None:
    project.write_deals("a.csv", [ROW])
    job = project.write_job("deals", project.deals_job())
    shown = make(project)
    code, summary, stderr = project.run_json("--config", str(job))
    assert code == 2, stderr
    assert summary["status"] == "failed" and summary["streams"] == []
    errors = [line for line in stderr.splitlines() if line.startswith("dativo: error:")]
    assert len(errors) == 1, stderr
    assert shown in errors[0] and message in errors[0], errors
    assert "Traceback" not in stderr
    assert not (project.root / "warehouse").exists()
