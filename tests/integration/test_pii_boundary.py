"""Column policies hold at one boundary, the tap (issue 22 items 1-2): through `dativo run` with
tap-csv on both paths, nested PII lands hashed, dead letters, a policy-unaware target plugin and
a killed run's folder never see a raw classified value."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from target_iceberg.catalog import open_catalog

from tests.helpers.project import Project

pytestmark = pytest.mark.integration

SALT = "pepper"
ENV = {"DATIVO_HASH_SALT": SALT}
RAW = ("top@x.io", "nested@x.io", "c1@x.io", "c2@x.io")
PATHS = {"fast": {}, "record": {"fast_path": False}}


def _hashed(value: str) -> str:
    return hashlib.sha256(SALT.encode() + value.encode()).hexdigest()


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("dativo: error:")]


def _people_asset(nested: str, profile_class: str = "PII") -> dict[str, Any]:
    return {
        "asset": {
            "name": "csv_people",
            "source_type": "csv",
            "object": "people",
            "version": "1.0",
            "primary_key": ["id"],
            "schema": [
                {"name": "id", "type": "integer", "required": True},
                {"name": "email", "type": "string", "classification": "PII"},
                {
                    "name": "profile",
                    "type": "object",
                    "fields": [
                        {"name": "email", "type": "string", "classification": profile_class},
                        {"name": "tier", "type": "string"},
                    ],
                },
                {
                    "name": "contacts",
                    "type": "array",
                    "fields": [
                        {"name": "email", "type": "string", "classification": "PII"},
                        {"name": "role", "type": "string"},
                    ],
                },
            ],
            "target": {"nested": nested},
        }
    }


def _people_job(project: Project, nested: str, path: str, profile_class: str = "PII") -> Path:
    project.write("assets/csv/v1.0/people.yaml", yaml.safe_dump(_people_asset(nested, profile_class)))
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["id", "email", "profile", "contacts"])
    profile = {"email": RAW[1], "tier": "gold"}
    contacts = [{"email": RAW[2], "role": "cto"}, {"email": RAW[3], "role": "cfo"}]
    writer.writerow([1, RAW[0], json.dumps(profile), json.dumps(contacts)])
    project.write("data/people/a.csv", text.getvalue())
    source = {"objects": ["people"], "files": [{"object": "people", "path": "data/people/*.csv"}]}
    job = project.deals_job(
        asset="csv_people", asset_path="assets/csv/v1.0/people.yaml", source={**source, **PATHS[path]}
    )
    return project.write_job("people", job)


def _table_rows(project: Project, table: str) -> list[dict[str, Any]]:
    loaded = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table(f"acme.{table}")
    return loaded.scan().to_arrow().to_pylist()


def _no_raw_bytes(folder: Path, raw: tuple[str, ...]) -> list[Path]:
    """Every file under ``folder`` checked: Parquet files by their values, others by bytes."""
    seen = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            text = json.dumps(pq.read_table(path).to_pylist(), default=str)
        else:
            text = path.read_bytes().decode("utf-8", errors="replace")
        assert not [value for value in raw if value in text], path
        seen.append(path)
    return seen


@pytest.mark.parametrize("path", ["fast", "record"])
@pytest.mark.parametrize("nested", ["struct", "json"])
def test_nested_pii_lands_hashed(project: Project, nested: str, path: str) -> None:
    job = _people_job(project, nested, path)
    result = project.dativo("run", "--config", str(job), env=ENV)
    assert result.returncode == 0, result.stderr
    [row] = _table_rows(project, "csv_people")
    profile, contacts = row["profile"], row["contacts"]
    if nested == "json":
        profile, contacts = json.loads(profile), json.loads(contacts)
    assert row["email"] == _hashed(RAW[0])  # the hash a top-level column always had
    assert profile == {"email": _hashed(RAW[1]), "tier": "gold"}
    assert contacts == [{"email": _hashed(RAW[2]), "role": "cto"}, {"email": _hashed(RAW[3]), "role": "cfo"}]
    _no_raw_bytes(project.root / "warehouse", RAW)


def test_an_unknown_class_on_a_nested_field_is_refused(project: Project) -> None:
    job = _people_job(project, "struct", "fast", profile_class="NOSUCHCLASS")
    for command in ("validate", "run"):
        result = project.dativo(command, "--config", str(job))
        assert result.returncode == 2, result.stderr
        assert _errors(result.stderr) == [
            "dativo: error: assets/csv/v1.0/people.yaml: asset.schema[2].fields[0].classification: "
            "field profile.email: 'NOSUCHCLASS' is not a classification of configs/policy.yaml "
            "(known: CONFIDENTIAL, PII, PUBLIC, SECRET)"
        ]
    assert not (project.root / "warehouse").exists()


DEALS = [
    "1,Good,Acme,won,12.50,USD,0.5,true,good.owner@example.com,2024-01-01T00:00:00Z,2024-02-01",
    "2,Bad date,Acme,lost,1.00,USD,0.1,false,bad.owner@example.com,2024-01-02T00:00:00Z,not-a-date",
]


@pytest.mark.parametrize("path", ["fast", "record"])
def test_a_dead_lettered_row_keeps_its_reason_but_no_raw_classified_value(
    project: Project, path: str
) -> None:
    project.write_deals("a.csv", DEALS)
    job = project.deals_job()
    job["source"].update(PATHS[path])
    result = project.dativo("run", "--config", str(project.write_job("deals", job)), env=ENV)
    assert result.returncode == 1, result.stderr  # partial: one row dead-lettered
    [dead] = project.files_under("dead_letter")
    [entry] = [json.loads(line) for line in dead.read_text().splitlines()]
    assert "bad.owner@example.com" not in dead.read_text()
    assert "close_date" in entry["reason"]
    assert entry["record"]["deal_name"] == "Bad date"  # unclassified fields are kept
    assert entry["record"]["owner_email"] == _hashed("bad.owner@example.com")
    [row] = _table_rows(project, "csv_deals")
    assert row["owner_email"] == _hashed("good.owner@example.com")
    assert "bad.owner@example.com" not in result.stderr and "good.owner@example.com" not in result.stderr


SPY_PLUGIN = '''
from typing import Any
from dativo_runner.plugins.base import TargetPlugin


class SpyTarget(TargetPlugin):
    """A target plugin written from docs/CONNECTORS.md that knows nothing of column policies."""

    job_schema = "targets/objects"

    def plan_config(self, job: Any) -> dict[str, Any]:
        return {"out": str(job.home.root / "spy.jsonl")}

    def location(self, job: Any, config: dict[str, Any], stream: str) -> str:
        return config["out"]
'''

SPY_PROGRAM = """#!{python}
import json, sys
import pyarrow.parquet as pq
config = json.load(open(sys.argv[sys.argv.index("--config") + 1]))
with open(config["out"], "a") as out:
    for line in sys.stdin:
        out.write(line)
        message = json.loads(line)
        if message.get("type") == "BATCH":  # the rows of its files, as the target would read them
            for url in message["manifest"]:
                rows = pq.read_table(url.removeprefix("file://")).to_pylist()
                out.write(json.dumps(rows, default=str) + "\\n")
"""


def _register_spy(project: Project, tmp_path: Path) -> dict[str, str]:
    plugins = tmp_path / "spy_plugins"
    (plugins / "bin").mkdir(parents=True)
    (plugins / "spy_target.py").write_text(SPY_PLUGIN)
    program = plugins / "bin" / "target-spy"
    program.write_text(SPY_PROGRAM.format(python=sys.executable))
    program.chmod(0o755)
    registry_file = project.root / "registry" / "connectors.yaml"
    registry = yaml.safe_load(registry_file.read_text())
    registry["registry"]["targets"]["spy"] = {
        "category": "object_store",
        "executable": "target-spy",
        "plugin": "spy_target:SpyTarget",
        "auth_methods": ["none"],
        "modes": ["self_hosted", "cloud"],
    }
    registry_file.write_text(yaml.safe_dump(registry))
    project.write(
        "connectors/targets/spy.yaml",
        yaml.safe_dump({"connector": {"name": "spy", "role": "target", "auth": {"method": "none"}}}),
    )
    return {
        **ENV,
        "PYTHONPATH": os.pathsep.join([str(plugins), os.environ.get("PYTHONPATH", "")]),
        "PATH": os.pathsep.join([str(plugins / "bin"), os.environ.get("PATH", "")]),
    }


@pytest.mark.parametrize("path", ["fast", "record"])
def test_a_target_plugin_that_knows_nothing_of_policies_never_sees_a_raw_value(
    project: Project, tmp_path: Path, path: str
) -> None:
    env = _register_spy(project, tmp_path)
    project.write_deals("a.csv", [DEALS[0]])
    job = project.deals_job(target_connector="spy")
    job.pop("target_connector_path")
    job["source"].update(PATHS[path])
    result = project.dativo("run", "--config", str(project.write_job("deals", job)), env=env)
    assert result.returncode == 0, result.stderr
    seen = (project.root / "spy.jsonl").read_text()
    assert "good.owner@example.com" not in seen
    assert _hashed("good.owner@example.com") in seen
    assert ('"type":"BATCH"' in seen.replace(" ", "")) == (path == "fast")


def test_a_tap_that_cannot_apply_policies_is_refused_for_a_classified_asset(
    project: Project, tmp_path: Path
) -> None:
    plugins = tmp_path / "foreign"
    plugins.mkdir()
    (plugins / "foreign_source.py").write_text(
        "from dativo_runner.plugins.sources.csv import CsvSource\n\n\n"
        "class ForeignCsv(CsvSource):\n    applies_column_policies = False\n"
    )
    registry_file = project.root / "registry" / "connectors.yaml"
    registry = yaml.safe_load(registry_file.read_text())
    registry["registry"]["sources"]["csv"]["plugin"] = "foreign_source:ForeignCsv"
    registry_file.write_text(yaml.safe_dump(registry))
    env = {"PYTHONPATH": os.pathsep.join([str(plugins), os.environ.get("PYTHONPATH", "")])}
    project.write_deals("a.csv", [DEALS[0]])
    job = project.write_job("deals", project.deals_job())
    for command in ("validate", "run"):
        result = project.dativo(command, "--config", str(job), env=env)
        assert result.returncode == 2, result.stderr
        [line] = _errors(result.stderr)
        assert "'csv' does not apply column policies" in line and "owner_email" in line
    assert not (project.root / "warehouse").exists()


def test_a_killed_run_leaves_no_raw_classified_value_in_its_run_folder(project: Project) -> None:
    emails = [f"person{i}@example.com" for i in range(60_000)]
    rows = [
        f"{i},D{i},Acme,won,1.00,USD,0.5,true,{email},2024-01-01T00:00:00Z,2024-02-01"
        for i, email in enumerate(emails, start=1)
    ]
    project.write_deals("a.csv", rows)
    job = project.deals_job(target={"batch": {"rows": 2000}})
    path = project.write_job("deals", job)
    run_dir = project.root / "state" / "acme" / ".deals.run"
    process = subprocess.Popen(
        [sys.executable, "-m", "dativo_runner", "run", "--config", str(path), "--home", str(project.root)],
        cwd=project.root,
        env={**os.environ, **ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(run_dir.glob("batches/*.parquet")):
        assert process.poll() is None, "the run ended before any BATCH file was written"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    seen = _no_raw_bytes(run_dir, ("person1@example.com", "person2@example.com", "person1999@example.com"))
    parquet = [p for p in seen if p.suffix == ".parquet"]
    assert parquet  # the check read real BATCH files
    values = {v for p in parquet for v in pq.read_table(p, columns=["owner_email"]).column(0).to_pylist()}
    assert values & {_hashed(e) for e in emails[:2000]}
    assert not values & set(emails)
    assert {"tap.json", "target.json"} <= {p.name for p in seen}


@pytest.mark.parametrize("nested", ["struct", "json"])
def test_a_value_whose_classified_fields_cannot_be_told_apart_is_hashed_whole(
    project: Project, nested: str
) -> None:
    job = _people_job(project, nested, "record")
    text = "secret.person@x.io, not json"
    project.write("data/people/a.csv", f'id,email,profile,contacts\n1,x@x.io,"{text}",[]\n')
    result = project.dativo("run", "--config", str(job), env=ENV)
    assert "secret.person@x.io" not in result.stderr + result.stdout
    for folder in ("warehouse", "dead_letter", "state"):
        if (project.root / folder).exists():
            _no_raw_bytes(project.root / folder, ("secret.person@x.io",))
    if nested == "json":  # JSON text holds any text: it lands, hashed
        assert result.returncode == 0, result.stderr
        [row] = _table_rows(project, "csv_people")
        assert row["profile"] == _hashed(text)
    else:  # a struct cannot hold it: dead-lettered, hashed
        assert result.returncode == 1, result.stderr
        [dead] = project.files_under("dead_letter")
        assert json.loads(dead.read_text())["record"]["profile"] == _hashed(text)


def test_standalone_tap_csv_does_not_quote_a_bad_classified_cell(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("id,age\n1,12secret.person@x.io\n")
    config = {
        "files": [{"object": "p", "path": str(tmp_path / "p.csv")}],
        "schemas": {"p": {"properties": {"id": {"type": "integer"}, "age": {"type": ["integer", "null"]}}}},
        "column_policies": {"age": "hash"},
        "hash_salt": SALT,
    }
    (tmp_path / "tap.json").write_text(json.dumps(config))
    result = subprocess.run(
        [sys.executable, "-c", "from tap_csv.tap import main; main()", "--config", str(tmp_path / "tap.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "<classified value> is not an integer" in result.stderr
    assert "secret.person" not in result.stderr + result.stdout


def test_protected_batch_files_are_registered_as_they_are(project: Project) -> None:
    """With the PII policy applied by the tap, target-iceberg adds the tap's BATCH files to the
    table as they are (no rewrite for the policy), and they hold the hash."""
    row = "{0},Deal {0},Acme,won,1.50,USD,0.5,true,owner{0}@example.com,2024-01-01T00:00:00Z,2024-02-01"
    project.write_deals("a.csv", [row.format(i) for i in range(1, 301)])
    result = project.dativo("run", "--config", str(project.write_job("deals", project.deals_job())), env=ENV)
    assert result.returncode == 0, result.stderr
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table("acme.csv_deals")
    files = [task.file.file_path for task in table.scan().plan_files()]
    assert files and all(path.endswith("-batch.parquet") for path in files)  # kept as they are
    emails = dict(zip(*table.scan().to_arrow().select(["deal_id", "owner_email"]).to_pydict().values(), strict=True))
    assert emails[7] == _hashed("owner7@example.com")
    _no_raw_bytes(project.root / "warehouse", ("owner7@example.com",))


def test_generate_config_flags_pii_by_value_whatever_the_column_name(project: Project) -> None:
    """The issue's CSV: contact, who, dob, ip and card held e-mails, names, birth dates, IPs and
    card numbers; the names say little, the values say enough (names of people stay unguessed)."""
    cards = ["4111111111111111", "5500005555555559", "340000000000009", "4012888888881881"]
    lines = ["id,contact,who,dob,ip,card,amount"]
    for i in range(1, 21):
        lines.append(
            f"{i},p{i}@example.com,Person {i},{1950 + i}-03-1{i % 9},192.168.{i}.7,{cards[i % 4]},{i}.50"
        )
    project.write("data/people/people.csv", "\n".join(lines) + "\n")
    discovered = project.dativo("discover", "--connector", "csv", "--path", "data/people/*.csv", "--json")
    assert discovered.returncode == 0, discovered.stderr
    [stream] = json.loads(discovered.stdout)["streams"]
    kinds = {f["name"]: f.get("pii") for f in stream["fields"]}
    assert kinds == {
        "id": None,
        "contact": "email",
        "who": None,
        "dob": "birth_date",
        "ip": "ip_address",
        "card": "card_number",
        "amount": None,
    }
    generated = project.dativo(
        "generate", "config", "--source", "csv", "--path", "data/people/*.csv", "--tenant", "acme",
        "--target", "iceberg",
    )
    assert generated.returncode == 0, generated.stderr
    asset = yaml.safe_load((project.root / "assets/csv/v1.0/people.yaml").read_text())["asset"]
    fields = {f["name"]: f for f in asset["schema"]}
    assert {name for name, f in fields.items() if f.get("classification") == "PII"} == {"contact", "dob", "ip", "card"}
    assert fields["card"]["type"] == "string"  # a card number is no quantity
    result = project.dativo("run", "--config", "jobs/acme/csv_people_to_iceberg.yaml", env=ENV)
    assert result.returncode == 0, result.stderr
    [row] = [r for r in _table_rows(project, "csv_people") if r["id"] == 1]
    assert row["contact"] == _hashed("p1@example.com") and row["card"] == _hashed(cards[1])
    _no_raw_bytes(project.root / "warehouse", ("p1@example.com", "192.168.1.7", cards[1]))


@pytest.mark.parametrize("path", ["fast", "record"])
@pytest.mark.parametrize("mode", ["warn", "fail"])
def test_an_unclassified_column_that_looks_personal_is_caught_at_run_time(
    project: Project, mode: str, path: str
) -> None:
    policy = project.root / "configs" / "policy.yaml"
    policy.write_text(policy.read_text().replace("  # unclassified_pii: warn", f"  unclassified_pii: {mode}"))
    project.write_deals(
        "a.csv",
        [f"{i},Deal {i},c{i}@contact.example.com,won,1.00,USD,0.5,true,o{i}@x.io,2024-01-01T00:00:00Z," for i in range(1, 30)],
    )  # ``company`` holds e-mail addresses and is not classified
    job = project.deals_job()
    job["source"].update(PATHS[path])
    result = project.dativo("run", "--config", str(project.write_job("deals", job)), env=ENV)
    line = (
        "column 'company' of stream 'deals' is not classified but its values look like emails "
        f"(unclassified_pii: {mode} in configs/policy.yaml)"
    )
    assert line in result.stderr
    assert result.stderr.count(line) == 1
    if mode == "warn":
        assert result.returncode == 0, result.stderr
        assert len(_table_rows(project, "csv_deals")) == 29
    else:
        assert result.returncode == 2, result.stderr
        assert not any(p.suffix == ".parquet" for p in project.files_under("warehouse"))


@pytest.mark.parametrize("owner", [None, "TODO-owner@example.com"])
def test_require_owner_refuses_an_asset_without_a_real_owner(project: Project, owner: str | None) -> None:
    policy = project.root / "configs" / "policy.yaml"
    policy.write_text(policy.read_text() + "  require_owner: true\n")
    asset = _people_asset("struct")
    if owner:
        asset["asset"]["governance"] = {"owner": owner}
    project.write("assets/csv/v1.0/people.yaml", yaml.safe_dump(asset))
    job = _people_job(project, "struct", "fast")
    project.write("assets/csv/v1.0/people.yaml", yaml.safe_dump(asset))
    why = "is the placeholder" if owner else "is not set"
    for command in ("validate", "run"):
        result = project.dativo(command, "--config", str(job), env=ENV)
        assert result.returncode == 2, result.stderr
        assert _errors(result.stderr) == [
            f"dativo: error: assets/csv/v1.0/people.yaml: governance.owner: {why}; configs/policy.yaml "
            "sets require_owner: name the dataset's owner (an e-mail or team)"
        ]
    assert not (project.root / "warehouse").exists()
    asset["asset"]["governance"] = {"owner": "people-team@example.com"}
    project.write("assets/csv/v1.0/people.yaml", yaml.safe_dump(asset))
    result = project.dativo("run", "--config", str(job), env=ENV)
    assert result.returncode == 0, result.stderr
    assert len(_table_rows(project, "csv_people")) == 1
