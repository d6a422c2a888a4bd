"""A job cannot write outside its tenant's key root, namespace or state folder, nor read another
tenant's secrets: hostile stream names (``..``, ``/``, absolute, URL-encoded separators) sent to
the standalone targets stay one safe segment below ``<prefix>/<tenant>/`` and become plain
Iceberg table names; a job naming another tenant's secret or namespace is refused with one line."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from target_iceberg.catalog import open_catalog

from tests.helpers.project import Project

pytestmark = pytest.mark.integration

VENV_BIN = Path(__file__).resolve().parents[2] / ".venv" / "bin"
HOSTILE = ["../../globex/deals", "/etc/passwd", "a%2F..%2F..%2Fb", "..", "x/_manifests", "C:\\evil", "ok"]


def _messages() -> str:
    lines = []
    for number, stream in enumerate(HOSTILE):
        schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
        lines.append({"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": ["id"]})
        lines.append({"type": "RECORD", "stream": stream, "record": {"id": number}})
    lines.append({"type": "STATE", "value": {"done": True}})
    return "".join(json.dumps(line) + "\n" for line in lines)


def _target(program: str, folder: Path, config: dict[str, object]) -> subprocess.CompletedProcess[str]:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config))
    return subprocess.run(
        [str(VENV_BIN / program), "--config", "config.json"],
        cwd=folder,
        input=_messages(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_hostile_stream_names_stay_inside_the_tenant(tmp_path: Path) -> None:
    objects_dir, iceberg_dir = tmp_path / "objects", tmp_path / "iceberg"
    with ThreadPoolExecutor(2) as pool:
        objects_run, iceberg_run = pool.map(
            lambda args: _target(*args),
            [
                (
                    "target-objects",
                    objects_dir,
                    {"storage": "local", "local_dir": "lake", "prefix": "raw", "tenant": "acme"},
                ),
                ("target-iceberg", iceberg_dir, {"warehouse_dir": "warehouse", "namespace": "acme"}),
            ],
        )
    assert objects_run.returncode == 0, objects_run.stderr[-2000:]
    assert iceberg_run.returncode == 0, iceberg_run.stderr[-2000:]

    written = [
        p.relative_to(objects_dir) for p in objects_dir.rglob("*") if p.is_file() and p.name != "config.json"
    ]
    outside = [str(p) for p in written if p.parts[:3] != ("lake", "raw", "acme")]
    assert not outside
    roots = {p.parts[3] for p in written if p.parts[:3] == ("lake", "raw", "acme")}
    assert len(roots) == len(HOSTILE), roots  # one root per stream, none shared
    assert all("/" not in r and "\\" not in r and "%" not in r and not r.startswith(".") for r in roots)
    manifests = [p for p in written if p.parts[-2] == "_manifests"]
    assert len(manifests) == len(HOSTILE) and all(len(p.parts) == 6 for p in manifests)

    catalog = open_catalog({"warehouse_dir": str(iceberg_dir / "warehouse")})
    names = sorted(name for _, name in catalog.list_tables("acme"))
    assert len(names) == len(HOSTILE) and all(n.replace("_", "").isalnum() or set(n) == {"_"} for n in names)
    files = [p.relative_to(iceberg_dir) for p in iceberg_dir.rglob("*") if p.is_file()]
    assert all(p.parts[0] in ("warehouse", "config.json", "dead_letter") for p in files), files
    assert all(p.parts[1] in ("acme", "catalog.db") for p in files if p.parts[0] == "warehouse"), files


def test_a_job_cannot_read_another_tenants_secrets(project: Project) -> None:
    project.write("secrets/globex/api.env", "GLOBEX_ONLY_TOKEN=globex-token-value-123\n")
    project.write_deals("a.csv", ["1,A,A,proposal,10.00,USD,0.5,false,a@example.com,2024-01-01T00:00:00Z,"])
    job = project.deals_job(
        source={"objects": ["deals"], "files": [{"path": "data/deals/${GLOBEX_ONLY_TOKEN}*"}]}
    )
    path = project.write_job("steal", job)

    result = project.dativo("run", "--config", str(path), "--secrets-dir", "secrets")

    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("dativo: error:")]
    assert len(errors) == 1 and "${GLOBEX_ONLY_TOKEN} is not set" in errors[0], result.stderr
    assert "globex-token-value" not in result.stdout + result.stderr
    assert project.files_under("state") == [] and project.files_under("warehouse") == []
