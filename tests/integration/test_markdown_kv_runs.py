"""End to end: the bundled Markdown-KV jobs through `dativo run`, rows read back from Iceberg.

One project home for the module; each job writes its own table and state file."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from target_iceberg.catalog import open_catalog

from dativo_singer.markdown_kv import parse_text
from tests.helpers.project import REPO, Project

pytestmark = pytest.mark.integration

DOCS = "data/markdown_kv/employees"
JOBS = {
    "string": ("markdown_kv_documents_to_iceberg", "markdown_kv_documents"),
    "row_per_kv": ("markdown_kv_pairs_to_iceberg", "markdown_kv_pairs"),
    "document": ("markdown_kv_employees_to_iceberg", "markdown_kv_employees"),
    "hybrid": ("markdown_kv_employees_hybrid_to_iceberg", "markdown_kv_employees_hybrid"),
}
EMPLOYEES = [
    (
        1,
        "Diana Alvarez",
        "Engineering",
        Decimal("98000.00"),
        dt.date(2021, 3, 15),
        True,
        "https://people.example.com/diana",
    ),
    (2, "Ben Okafor", "Engineering", Decimal("87500.50"), dt.date(2022, 11, 1), False, ""),
    (
        3,
        "Chen Li",
        "Sales",
        Decimal("72000.00"),
        dt.date(2020, 6, 30),
        True,
        "https://people.example.com/chen",
    ),
]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
COLUMNS = ("id", "name", "department", "salary", "start_date", "remote", "profile")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = Project.create(tmp_path_factory.mktemp("markdown_kv") / "home")
    shutil.copytree(REPO / DOCS, project.root / DOCS)
    for job, _ in JOBS.values():
        project.write(f"jobs/acme/{job}.yaml", (REPO / f"jobs/acme/{job}.yaml").read_text())
    return project


@dataclass
class FirstRuns:
    """The run summaries of the bundled jobs and the documents (bytes, mtime) they read."""

    jobs: dict[str, dict]
    files: dict[str, tuple[bytes, int]]


@pytest.fixture(scope="module")
def first_runs(home: Project) -> FirstRuns:
    """The four bundled Iceberg jobs, run once by one `dativo run --job-dir` (one process)."""
    files = {
        f"{DOCS}/{p.name}": (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted((home.root / DOCS).glob("*.md"))
    }
    code, summary, stderr = home.run_json("--job-dir", "jobs/acme")
    assert code == 0, stderr
    return FirstRuns({Path(job["job"]).stem: job for job in summary["jobs"]}, files)


def _rows(project: Project, storage: str) -> list[dict]:
    catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
    return catalog.load_table(f"acme.{JOBS[storage][1]}").scan().to_arrow().to_pylist()


def _run(project: Project, storage: str) -> tuple[int, dict, str, list[dict]]:
    code, summary, stderr = project.run_json(
        "--config", str(project.root / f"jobs/acme/{JOBS[storage][0]}.yaml")
    )
    return code, summary, stderr, _rows(project, storage)


def test_string_storage_one_row_per_file(home: Project, first_runs: FirstRuns) -> None:
    assert first_runs.jobs[JOBS["string"][0]]["streams"][0]["rows"] == 2
    rows = _rows(home, "string")
    expected = [
        {
            "path": name,
            "title": parse_text(data.decode()).title,
            "markdown": data.decode(),
            "checksum": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "modified_at": EPOCH + dt.timedelta(microseconds=mtime_ns // 1000),
        }
        for name, (data, mtime_ns) in first_runs.files.items()
    ]
    got = sorted(({k: r[k] for k in expected[0]} for r in rows), key=lambda r: r["path"])
    assert got == expected
    assert [r["title"] for r in got] == ["Employee Database: Engineering", "Employee Database: Sales"]


def test_row_per_kv_storage_one_row_per_key(home: Project, first_runs: FirstRuns) -> None:
    rows = _rows(home, "row_per_kv")
    expected = [
        (name, index, record.heading, key, value)
        for name, (data, _) in first_runs.files.items()
        for index, record in enumerate(parse_text(data.decode()).records)
        for key, value in record.fields.items()
    ]
    got = [(r["path"], r["record_index"], r["heading"], r["key"], r["value"]) for r in rows]
    assert sorted(got) == sorted(expected)
    assert len(got) == 24
    assert (f"{DOCS}/engineering.md", 1, "Ben Okafor", "start date", "2022-11-01") in got
    assert (f"{DOCS}/engineering.md", 1, "Ben Okafor", "profile", "") in got


def test_document_storage_typed_columns_then_an_edit(home: Project, first_runs: FirstRuns) -> None:
    rows = _rows(home, "document")
    rows.sort(key=lambda r: r["id"])
    assert [tuple(r[c] for c in COLUMNS) for r in rows] == EMPLOYEES
    # email is classified PII: the policy hashes it
    assert all(len(r["email"]) == 64 and "@" not in r["email"] for r in rows)
    assert [r["_sdc_source_file"] for r in rows] == [f"{DOCS}/engineering.md"] * 2 + [f"{DOCS}/sales.md"]

    # An edited file's rows are replaced, the other file is not read again, and a value that does
    # not parse is dead-lettered (skipping unchanged and touched files: tests/unit/test_tap_markdown_kv.py).
    sales = home.root / DOCS / "sales.md"
    original = sales.read_text()
    sales.write_text(
        original.replace("salary: 72000.00", "salary: 75000.00")
        + "\n## Dana Ruiz\n\nid: 4\nname: Dana Ruiz\ndepartment: Sales\nremote: no\n"
        + "\n## Eve\n\nid: 5\nname: Eve\nsalary: lots\n"
    )
    try:
        code, summary, stderr, rows = _run(home, "document")
    finally:
        sales.write_text(original)
    assert code == 1, stderr  # partial success: one record dead-lettered
    assert summary["streams"][0]["rows"] == 2
    assert summary["streams"][0]["dead_letter_rows"] == 1
    assert "field 'salary': 'lots' is not a valid decimal128(10, 2)" in stderr
    by_id = {r["id"]: r for r in rows}
    assert sorted(by_id) == [1, 2, 3, 4]
    assert by_id[3]["salary"] == Decimal("75000.00")
    assert (by_id[4]["name"], by_id[4]["salary"], by_id[4]["remote"]) == ("Dana Ruiz", None, False)


def test_hybrid_storage_typed_columns_and_record_markdown(home: Project, first_runs: FirstRuns) -> None:
    rows = _rows(home, "hybrid")
    rows.sort(key=lambda r: r["id"])
    assert [tuple(r[c] for c in COLUMNS) for r in rows] == EMPLOYEES
    assert rows[2]["markdown"] == (
        "## Chen Li\n\n```\nid: 3\nname: Chen Li\ndepartment: Sales\nsalary: 72000.00\n"
        "start date: 2020-06-30\nremote: true\nprofile: https://people.example.com/chen\n```\n"
    )
    # the key of the hashed column stays out of the Markdown too
    assert not any("example.com\n" in r["markdown"] and "email" in r["markdown"] for r in rows)


def test_malformed_document_exit_2_naming_file_and_line(project: Project) -> None:
    project.write(
        "data/bad/people.md",
        "# People\n\n## Ana\n\n```\nid: 1\nname: Ana\n```\n\n## Bo\n\n```\nid: 2\nthis line has no separator\n```\n",
    )
    job = (REPO / "jobs/acme/markdown_kv_employees_to_iceberg.yaml").read_text()
    path = project.write("jobs/acme/bad.yaml", job.replace(f"path: {DOCS}", "path: data/bad/people.md"))
    code, summary, stderr = project.run_json("--config", str(path))
    assert code == 2
    assert "data/bad/people.md line 14: expected 'key: value', got 'this line has no separator'" in stderr
    assert summary["status"] == "failed"
    assert not (project.root / "state" / "acme" / "bad.json").exists()


WRONG_JOBS = {
    "row_per_kv": (
        ("storage: document", "storage: row_per_kv"),
        "source.storage: storage 'row_per_kv' needs an asset with exactly the columns "
        "['path', 'record_index', 'heading', 'key', 'value']",
    ),
    "raw": (("storage: document", "storage: raw"), "source.storage: storage 'raw' needs an asset"),
    "nothing": (
        (f"path: {DOCS}", "path: data/none/*.md"),
        "source.files[0].path: no file matches 'data/none/*.md'",
    ),
}


def test_validate_refuses_what_run_would(home: Project) -> None:
    job = (REPO / "jobs/acme/markdown_kv_employees_to_iceberg.yaml").read_text()
    for name, (edit, _) in WRONG_JOBS.items():
        home.write(f"jobs/wrong/{name}.yaml", job.replace(*edit))
    result = home.dativo("validate", "--job-dir", "jobs/wrong")  # one process checks each job
    assert result.returncode == 2
    assert "3 jobs checked, 3 invalid" in result.stdout
    for _, message in WRONG_JOBS.values():
        assert message in result.stdout + result.stderr


def test_plan_maps_s3_paths_storage_from_the_asset_and_protected_columns(home: Project) -> None:
    from dativo_runner.home import ProjectHome
    from dativo_runner.job_config import load_job_config

    job_text = (REPO / "jobs/acme/markdown_kv_employees_hybrid_to_iceberg.yaml").read_text()
    job_text = job_text.replace("  storage: hybrid\n", "").replace(
        f"    - path: {DOCS}\n",
        "    - path: s3://docs/hr/**/*.md\n  connection:\n    s3:\n      endpoint: http://127.0.0.1:9000\n"
        "      access_key_id: key\n      secret_access_key: ${MDKV_TEST_SECRET}\n",
    )
    path = home.write("jobs/plan/s3.yaml", job_text)
    os.environ["MDKV_TEST_SECRET"] = "s3cr3t"
    try:
        job = load_job_config(path, ProjectHome(home.root))
    finally:
        del os.environ["MDKV_TEST_SECRET"]
    config = job.source_plugin.plan_config(job)
    assert config["files"] == [{"object": "employees", "path": "s3://docs/hr/**/*.md", "storage": "hybrid"}]
    assert (config["s3_endpoint_url"], config["s3_access_key_id"], config["s3_secret_access_key"]) == (
        "http://127.0.0.1:9000",
        "key",
        "s3cr3t",
    )
    assert config["unrendered_columns"] == {"employees": ["email"]}
    assert config["key_properties"] == {"employees": ["id"]}
