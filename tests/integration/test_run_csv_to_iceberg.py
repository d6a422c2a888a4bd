"""End to end: `dativo run` loads CSV into Iceberg; rows read back with pyiceberg and DuckDB."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from target_iceberg.catalog import open_catalog

from tests.helpers import duckdb_reader
from tests.helpers.project import Project

pytestmark = pytest.mark.integration

ROWS = [
    "1,Acme - Platform,Acme,closed_won,1200.50,USD,1.0,true,ana@example.com,2024-03-01T10:00:00Z,2024-04-01",
    "2,Beta - Seats,Beta,proposal,99.99,EUR,0.5,false,ben@example.com,2024-03-02T11:30:00Z,",
    '3,"Gamma, Inc - Support","Gamma, Inc",qualified,0.01,GBP,0.25,no,,2024-03-03T00:00:00+02:00,',
]


def _table(project: Project):
    catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
    return catalog.load_table("acme.csv_deals")


def test_run_loads_exact_rows_and_values(project: Project) -> None:
    project.write_deals("a.csv", ROWS)
    job = project.write_job("deals", project.deals_job())

    code, summary, stderr = project.run_json("--config", str(job))

    assert code == 0, stderr
    assert summary["status"] == "succeeded"
    [stream] = summary["streams"]
    assert stream["stream"] == "deals"
    assert stream["rows"] == 3
    assert stream["table"] == "acme.csv_deals"
    assert stream["metadata_location"].endswith(".metadata.json")
    rows = sorted(_table(project).scan().to_arrow().to_pylist(), key=lambda r: r["deal_id"])
    assert [r["deal_id"] for r in rows] == [1, 2, 3]
    assert rows[0]["amount"] == Decimal("1200.50")
    assert rows[1]["amount"] == Decimal("99.99")
    assert rows[2]["deal_name"] == "Gamma, Inc - Support"
    assert rows[0]["is_won"] is True and rows[2]["is_won"] is False
    assert rows[0]["close_date"] == dt.date(2024, 4, 1)
    assert rows[1]["close_date"] is None
    assert rows[2]["owner_email"] is None
    assert rows[2]["created_at"] == dt.datetime(2024, 3, 2, 22, 0, tzinfo=dt.timezone.utc)
    assert rows[1]["probability"] == pytest.approx(0.5)


def test_duckdb_reads_the_same_rows(project: Project) -> None:
    project.write_deals("a.csv", ROWS)
    job = project.write_job("deals", project.deals_job())
    code, summary, stderr = project.run_json("--config", str(job))
    assert code == 0, stderr

    location = summary["streams"][0]["metadata_location"]
    rows = duckdb_reader.scan(location, "SELECT deal_id, company, amount, is_won FROM t ORDER BY deal_id")
    assert rows == [
        (1, "Acme", Decimal("1200.50"), True),
        (2, "Beta", Decimal("99.99"), False),
        (3, "Gamma, Inc", Decimal("0.01"), False),
    ]


def test_second_run_resumes_from_state(project: Project) -> None:
    project.write_deals("a.csv", ROWS)
    job = project.write_job("deals", project.deals_job())
    assert project.run_json("--config", str(job))[0] == 0
    state_file = project.root / "state" / "acme" / "deals.json"
    assert state_file.is_file()
    assert "a.csv" in state_file.read_text()

    code, summary, _ = project.run_json("--config", str(job))
    assert code == 0
    assert summary["streams"][0]["rows"] == 0
    assert len(_table(project).scan().to_arrow()) == 3

    project.write_deals(
        "b.csv",
        ["4,Delta - Seats,Delta,proposal,10.00,USD,0.5,false,dan@example.com,2024-03-04T00:00:00Z,"],
    )
    code, summary, _ = project.run_json("--config", str(job))
    assert code == 0
    assert summary["streams"][0]["rows"] == 1
    ids = sorted(_table(project).scan().to_arrow().column("deal_id").to_pylist())
    assert ids == [1, 2, 3, 4]
    state = json.loads(state_file.read_text())
    assert set(state["bookmarks"]["deals"]["files"]) == {
        str((project.root / "data/deals" / n).resolve()) for n in ("a.csv", "b.csv")
    }


def test_text_summary_names_rows_table_and_snapshot(project: Project) -> None:
    project.write_deals("a.csv", ROWS)
    job = project.write_job("deals", project.deals_job())
    result = project.dativo("run", "--config", str(job))
    assert result.returncode == 0, result.stderr
    assert "stream deals: 3 rows" in result.stdout
    assert "acme.csv_deals snapshot" in result.stdout
    assert "rows committed" in result.stderr  # progress line


def test_job_dir_runs_every_job_and_reports_partial_failure(project: Project) -> None:
    project.write_deals("a.csv", ROWS)
    project.write_job("good", project.deals_job())
    project.write_job("bad", project.deals_job(asset_path="assets/csv/v1.0/missing.yaml"))

    code, summary, stderr = project.run_json("--job-dir", "jobs")
    assert code == 1
    statuses = {j["job"]: j["status"] for j in summary["jobs"]}
    assert statuses == {"jobs/acme/good.yaml": "succeeded", "jobs/acme/bad.yaml": "invalid"}
    assert "missing.yaml not found" in stderr


def test_job_dir_with_only_failures_exits_2(project: Project) -> None:
    project.write_job("bad", project.deals_job(asset_path="assets/csv/v1.0/missing.yaml"))
    code, summary, _ = project.run_json("--job-dir", "jobs")
    assert code == 2
    assert summary["jobs"][0]["status"] == "invalid"


def test_nested_asset_fields_land_as_structs(project: Project) -> None:
    project.write(
        "assets/csv/v1.0/contacts.yaml",
        """
asset:
  name: csv_contacts
  source_type: csv
  object: contacts
  version: "1.0"
  primary_key: [id]
  schema:
    - {name: id, type: integer, required: true}
    - name: address
      type: object
      fields:
        - {name: city, type: string}
        - {name: zip, type: integer}
    - {name: tags, type: array, items: string}
  target:
    nested: struct
""",
    )
    project.write(
        "data/contacts.csv", 'id,address,tags\n1,"{""city"": ""Oslo"", ""zip"": 150}","[""a"", ""b""]"\n'
    )
    job = project.write_job(
        "contacts",
        project.deals_job(
            asset="csv_contacts",
            asset_path="assets/csv/v1.0/contacts.yaml",
            source={"objects": ["contacts"], "files": [{"path": "data/contacts.csv"}]},
        ),
    )
    code, _, stderr = project.run_json("--config", str(job))
    assert code == 0, stderr
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.csv_contacts")
    assert str(table.schema().find_field("address").field_type).startswith("struct<")
    [row] = table.scan().to_arrow().to_pylist()
    assert len(row.pop("_sdc_source_version")) == 16  # rows carry their file's content version
    assert row == {
        "id": 1,
        "address": {"city": "Oslo", "zip": 150},
        "tags": ["a", "b"],
        "_sdc_source_file": "data/contacts.csv",
    }
