"""Meltano runs our tap-csv and target-iceberg as custom plugins (examples/meltano), with its own
state backend (the system database in .meltano/), incrementally."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml

from tests.interop.conftest import REPO, clean_env, iceberg_rows, iceberg_table, peer_executable, run

EXAMPLE = REPO / "examples" / "meltano"
STATE_ID = "dev:tap-csv-to-target-iceberg"
TABLE = "meltano_example.orders"
UTC = timezone.utc

pytestmark = pytest.mark.integration

FIRST_ROWS = [
    {
        "id": 1,
        "customer": "Zoë Ångström",
        "amount": 19.99,
        "ordered_at": datetime(2024, 1, 3, 10, 15, tzinfo=UTC),
        "note": "first order",
    },
    {
        "id": 2,
        "customer": "Tailspin Toys",
        "amount": 1250.0,
        "ordered_at": datetime(2024, 1, 4, 8, 0, tzinfo=UTC),
        "note": None,
    },
    {
        "id": 3,
        "customer": "Contoso, Ltd.",
        "amount": 0.05,
        "ordered_at": datetime(2024, 1, 5, 23, 59, 59, tzinfo=UTC),
        "note": 'said "rush"',
    },
]
NEW_CSV = (
    "id,customer,amount,ordered_at,note\n"
    '4,Fabrikam,7.25,2024-02-01T12:00:00+02:00,"two\nlines"\n'
    "5,,-0.5,,new\n"
)
NEW_ROWS = [
    {
        "id": 4,
        "customer": "Fabrikam",
        "amount": 7.25,
        "ordered_at": datetime(2024, 2, 1, 10, 0, tzinfo=UTC),
        "note": "two\nlines",
    },
    {"id": 5, "customer": None, "amount": -0.5, "ordered_at": None, "note": "new"},
]
GROWN_CSV = "6,Woodgrove Bank,100,2024-02-02T00:00:00Z,grown\n"
GROWN_ROWS = [
    {
        "id": 6,
        "customer": "Woodgrove Bank",
        "amount": 100.0,
        "ordered_at": datetime(2024, 2, 2, tzinfo=UTC),
        "note": "grown",
    },
]


def _project(tmp_path: Path, our_bin: Path) -> Path:
    """A copy of the example whose plugins run our already-installed programs: ``executable``
    becomes an absolute path, and every ``meltano run`` is ``--no-install``, so Meltano never
    pip-installs this package again (``pip_url`` stays as users have it)."""
    project = tmp_path / "meltano"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".meltano", "output"))
    spec = yaml.safe_load((project / "meltano.yml").read_text())
    for kind in ("extractors", "loaders"):
        for plugin in spec["plugins"][kind]:
            plugin["executable"] = str(our_bin / plugin["name"])
    (project / "meltano.yml").write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    return project


def _meltano(project: Path, *args: str) -> str:
    meltano = peer_executable("meltano")
    env = clean_env(MELTANO_SEND_ANONYMOUS_USAGE_STATS="false", NO_COLOR="1")
    return run([meltano, *args], cwd=project, env=env, timeout=240).stdout.decode()


def _singer_state(project: Path) -> dict[str, Any]:
    out = _meltano(project, "--environment=dev", "state", "get", STATE_ID)
    return json.loads(out.strip().splitlines()[-1])["singer_state"]


def _rows(warehouse: Path) -> list[dict[str, Any]]:
    """The table's rows without the file-version columns target-iceberg keeps for tap-csv
    (checked present on every row: they let an edited file replace its rows)."""
    rows = iceberg_rows(warehouse, TABLE, "id")
    for row in rows:
        assert str(row.pop("_sdc_source_file")).endswith(".csv")
        assert len(row.pop("_sdc_source_version")) == 16
    return rows


def test_meltano_runs_tap_csv_into_target_iceberg_incrementally(tmp_path: Path, our_bin: Path) -> None:
    project = _project(tmp_path, our_bin)
    warehouse = project / "output" / "warehouse"

    _meltano(project, "run", "--no-install", "tap-csv", "target-iceberg")
    assert _rows(warehouse) == FIRST_ROWS
    assert (project / ".meltano" / "meltano.db").exists()  # the systemdb state backend

    (project / "data" / "orders-2024-02.csv").write_text(NEW_CSV, encoding="utf-8")
    _meltano(project, "run", "--no-install", "tap-csv", "target-iceberg")

    # Only the new file's rows arrived: an append of 2, no row twice.
    assert _rows(warehouse) == FIRST_ROWS + NEW_ROWS
    table = iceberg_table(warehouse, TABLE)
    snapshots = table.metadata.snapshots
    assert [s.summary["added-records"] for s in snapshots] == ["3", "2"]

    # Meltano's state backend holds our bookmark: every file read to its end...
    state = _singer_state(project)
    files = state["bookmarks"]["orders"]["files"]
    assert {Path(p).name: (f["rows"], f["done"]) for p, f in files.items()} == {
        "orders-2024-01.csv": (3, True),
        "orders-2024-02.csv": (2, True),
    }
    # ...and it is the bookmark committed with the data in the table's newest snapshot.
    assert json.loads(snapshots[-1].summary["dativo.singer-state"]) == state

    # A file that grew is read from where the bookmark stopped.
    with (project / "data" / "orders-2024-02.csv").open("a", encoding="utf-8") as handle:
        handle.write(GROWN_CSV)
    _meltano(project, "run", "--no-install", "tap-csv", "target-iceberg")
    assert _rows(warehouse) == FIRST_ROWS + NEW_ROWS + GROWN_ROWS
    assert [s.summary["added-records"] for s in iceberg_table(warehouse, TABLE).metadata.snapshots] == [
        "3",
        "2",
        "1",
    ]
    files = _singer_state(project)["bookmarks"]["orders"]["files"]
    assert {Path(p).name: f["rows"] for p, f in files.items()} == {
        "orders-2024-01.csv": 3,
        "orders-2024-02.csv": 3,
    }


def test_meltano_run_with_nothing_new_adds_nothing(tmp_path: Path, our_bin: Path) -> None:
    project = _project(tmp_path, our_bin)
    warehouse = project / "output" / "warehouse"
    _meltano(project, "run", "--no-install", "tap-csv", "target-iceberg")
    before = _singer_state(project)
    _meltano(project, "run", "--no-install", "tap-csv", "target-iceberg")
    assert _rows(warehouse) == FIRST_ROWS
    assert _singer_state(project) == before


def _about(program: Path) -> dict[str, Any]:
    return json.loads(run([program, "--about", "--format", "json"]).stdout)


@pytest.mark.parametrize(
    "kind,name", [("extractors", "tap-csv"), ("extractors", "tap-postgres"), ("loaders", "target-iceberg")]
)
def test_meltano_plugin_definition_matches_about(kind: str, name: str, our_bin: Path) -> None:
    """meltano.yml declares every setting and capability the program reports, secrets sensitive."""
    spec = yaml.safe_load((EXAMPLE / "meltano.yml").read_text())
    (plugin,) = [p for p in spec["plugins"][kind] if p["name"] == name]
    about = _about(our_bin / name)
    settings = {s["name"]: s for s in plugin["settings"]}
    properties = about["settings"]["properties"]
    assert set(settings) == set(properties)
    assert set(about["capabilities"]) <= set(plugin["capabilities"])
    secrets = {k for k, v in properties.items() if v.get("secret") or v.get("writeOnly")}
    assert secrets <= {k for k, s in settings.items() if s.get("sensitive")}
    # -e <the core> -e <the program's own distribution>: the plugin alone, not the platform
    words = plugin["pip_url"].split()
    assert words[0::2] == ["-e", "-e"]
    core, own = (tomllib.loads((EXAMPLE / w / "pyproject.toml").read_text())["project"] for w in words[1::2])
    assert core["name"] == "dativo-singer" and name in own["scripts"]
    assert plugin["executable"] == name


def test_meltano_redacts_the_sensitive_settings(tmp_path: Path, our_bin: Path) -> None:
    project = _project(tmp_path, our_bin)
    meltano = peer_executable("meltano")
    env = clean_env(
        MELTANO_SEND_ANONYMOUS_USAGE_STATS="false",
        NO_COLOR="1",
        TARGET_ICEBERG_HASH_SALT="s3cr3t-salt",
        TARGET_ICEBERG_CATALOG='{"type": "rest", "uri": "http://127.0.0.1:1", "credential": "id:s3cr3t-cred"}',
    )
    result = run([meltano, "config", "list", "target-iceberg"], cwd=project, env=env)
    out = result.stdout.decode() + result.stderr.decode()
    assert "hash_salt" in out and "catalog" in out
    assert "s3cr3t" not in out
    assert out.count("(redacted)") == 2
