"""The #5 bad-input corpus extended to every connector's settings: the job-level cases of
tests/fixtures/bad_input/settings/job_cases.yaml (wrong types, unknown keys, missing required,
out-of-range values, bad enums, hostile tenant/object/namespace names) all checked by ONE
`dativo validate --job-dir` run, and standalone tap/target configs by each program's own check.
Each bad job gets exactly one error line naming its file and field; nothing is written."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration

CASES = yaml.safe_load(
    (
        Path(__file__).resolve().parents[1] / "fixtures" / "bad_input" / "settings" / "job_cases.yaml"
    ).read_text()
)
VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"


def _apply(job: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    job = copy.deepcopy(job)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = job
        for name in parents:
            node = node.setdefault(name, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return job


def test_every_bad_job_setting_is_one_line_naming_file_and_field(project: Project) -> None:
    project.write_deals("a.csv", ["1,A,A,proposal,10.00,USD,0.5,false,a@example.com,2024-01-01T00:00:00Z,"])
    project.write("data/markdown_kv/employees/a.md", "# A\n\n- name: x\n")
    for case in CASES:
        base = yaml.safe_load((REPO / "jobs" / "acme" / f"{case['job']}.yaml").read_text())
        project.write_job(case["name"], _apply(base, case["set"]))

    result = project.dativo("validate", "--job-dir", "jobs/acme")

    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("dativo: error:")]
    wrong = {}
    for case in CASES:
        mine = [line for line in lines if f"jobs/acme/{case['name']}.yaml" in line]
        if len(mine) != 1 or not all(fragment in mine[0] for fragment in case["expected"]):
            wrong[case["name"]] = mine
    assert not wrong, json.dumps(wrong, indent=1)
    assert not (project.root / "state").exists() and not (project.root / "warehouse").exists()


# Standalone programs: (program, config, extra args, fragments of its one error line).
STANDALONE: list[tuple[str, dict[str, Any], list[str], tuple[str, ...]]] = [
    ("tap-csv", {"files": "data/*.csv"}, ["--discover"], ("files",)),
    (
        "tap-postgres",
        {"host": "127.0.0.1", "port": 70000, "database": "x", "user": "u"},
        ["--discover"],
        ("port",),
    ),
    (
        "tap-mysql",
        {"host": "127.0.0.1", "port": "x", "database": "x", "user": "u"},
        ["--discover"],
        ("port",),
    ),
    (
        "tap-stripe",
        {"api_key": "sk_test_x", "max_requests_per_second": -1},
        ["--discover"],
        ("max_requests_per_second",),
    ),
    ("tap-hubspot", {"access_token": "x", "start_date": 5}, ["--discover"], ("start_date",)),
    (
        "tap-gdrive-csv",
        {"credentials_json": "{}", "files": [{"object": "a", "name_pattern": "x"}]},
        ["--discover"],
        ("folder_id",),
    ),
    ("tap-google-sheets", {"credentials_json": "{}", "sheets": "Vendors"}, ["--discover"], ("sheets",)),
    (
        "tap-markdown-kv",
        {"files": [{"object": "a", "path": "config.json", "storage": "xml"}]},
        ["--discover"],
        ("storage", "xml"),
    ),
    ("target-objects", {"storage": "local", "tenant": "../globex"}, [], ("tenant", "../globex")),
    ("target-iceberg", {"write_mode": "sometimes"}, [], ("write_mode", "sometimes")),
    ("target-iceberg", {"namespace": "../globex"}, [], ("namespace", "../globex")),
]


def _standalone(
    tmp: Path, index: int, program: str, config: dict[str, Any], args: list[str]
) -> subprocess.CompletedProcess[str]:
    folder = tmp / f"case{index}"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(
            {"warehouse_dir": "wh", "local_dir": "objects", **config}
            if program.startswith("target")
            else config
        )
    )
    return subprocess.run(
        [str(VENV_BIN / program), "--config", "config.json", *args],
        cwd=folder,
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )


# By default one case per program family (a file tap, a database tap, a REST tap, each target);
# DATIVO_SECURITY_FULL=1 (`make test-security`) runs every case.
DEFAULT_CASES = ("tap-csv", "tap-postgres", "tap-stripe", "target-objects", "target-iceberg")


def test_standalone_programs_refuse_bad_settings_with_one_line(tmp_path: Path) -> None:
    full = os.environ.get("DATIVO_SECURITY_FULL") == "1"
    cases = [c for c in STANDALONE if full or c[0] in DEFAULT_CASES]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda ic: _standalone(tmp_path, ic[0], *ic[1][:3]), enumerate(cases)))
    wrong = {}
    for index, ((program, config, _, expected), result) in enumerate(zip(cases, results, strict=True)):
        lines = [line for line in result.stderr.splitlines() if line.startswith(f"{program}: error:")]
        folder = tmp_path / f"case{index}"
        written = sorted(
            str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != "config.json"
        )
        ok = (
            result.returncode == 2
            and len(lines) == 1
            and all(f in lines[0] for f in expected)
            and "Traceback" not in result.stderr
            and not result.stdout.strip()
            and not written
        )
        if not ok:
            wrong[f"{index} {program} {config}"] = [result.returncode, lines, result.stderr[-400:], written]
    assert not wrong, json.dumps(wrong, indent=1)
