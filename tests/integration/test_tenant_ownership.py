"""A table belongs to the tenant recorded with it (``dativo.tenant``): another tenant's job can
never write, replace, merge into or resume from it, whatever namespace or table name it chooses;
default namespaces of ``acme`` and ``acme_evil`` never collide. Rows are read back with DuckDB."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from target_iceberg.catalog import open_catalog

from tests.helpers import duckdb_reader
from tests.helpers.project import Project

pytestmark = pytest.mark.integration

ROW = "{n},Deal {n},Co,proposal,10.00,USD,0.5,false,o{n}@example.com,2024-01-0{n}T00:00:00Z,"


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("dativo: error:")]


def _rows(project: Project, identifier: str) -> list[int]:
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table(identifier)
    return [r[0] for r in duckdb_reader.scan(table.metadata_location, "SELECT deal_id FROM t ORDER BY 1")]


def _owner(project: Project, identifier: str) -> str | None:
    table = open_catalog({"warehouse_dir": str(project.root / "warehouse")}).load_table(identifier)
    return table.properties.get("dativo.tenant")


def _victim(project: Project, tenant: str = "acme_evil", **target: object) -> None:
    project.write_deals("a.csv", [ROW.format(n=1), ROW.format(n=2)])
    job = project.deals_job(tenant_id=tenant, target=dict(target))
    path = project.write_job("deals", job, tenant=tenant)
    result = project.dativo("run", "--config", str(path))
    assert result.returncode == 0, result.stderr


def _attack(
    project: Project, target: dict[str, object], name: str = "attack"
) -> subprocess.CompletedProcess[str]:
    project.write_deals("a.csv", [ROW.format(n=7)])
    path = project.write_job(name, project.deals_job(target=target))
    return project.dativo("run", "--config", str(path))


@pytest.mark.parametrize("mode", ["overwrite", "merge", "append"])
def test_a_tenant_cannot_write_the_default_namespace_of_another(project: Project, mode: str) -> None:
    _victim(project)
    state_before = sorted(p.name for p in project.files_under("state/acme_evil"))

    result = _attack(project, {"namespace": "acme_evil", "write_mode": mode})

    assert result.returncode == 2
    errors = _errors(result.stderr)
    assert len(errors) == 1 and "target.namespace" in errors[0], result.stderr
    assert "'acme_evil' is the default namespace of tenant 'acme_evil'" in errors[0]
    assert _rows(project, "acme_evil.csv_deals") == [1, 2]
    assert _owner(project, "acme_evil.csv_deals") == "acme_evil"
    assert sorted(p.name for p in project.files_under("state/acme_evil")) == state_before
    assert project.files_under("state/acme") == []


def test_recorded_ownership_refuses_whatever_names_are_chosen(project: Project) -> None:
    """The victim is unknown to this home (its jobs and state live elsewhere): the name rule
    allows ``acme_x_sales`` to ``acme``, the table's recorded owner refuses it, before its
    bookmark is read and before anything is written."""
    _victim(project, tenant="acme_x", namespace="acme_x_sales", table="deals_t")
    for folder in ("jobs/acme_x", "state/acme_x"):
        for path in project.files_under(folder):
            path.unlink()
        for path in sorted((project.root / folder).rglob("*"), reverse=True):
            path.rmdir()
        (project.root / folder).rmdir()

    result = _attack(project, {"namespace": "acme_x_sales", "table": "deals_t", "write_mode": "merge"})

    assert result.returncode == 2
    errors = _errors(result.stderr)
    assert len(errors) == 1, result.stderr
    assert "target.namespace: table acme_x_sales.deals_t belongs to another tenant" in errors[0]
    assert _rows(project, "acme_x_sales.deals_t") == [1, 2]
    assert project.files_under("state/acme") == []
    for command in (["show"], ["inspect"], ["maintain", "--older-than-hours", "0"]):
        read = project.dativo(*command, "--config", "jobs/acme/attack.yaml")
        assert read.returncode == 2, (command, read.stdout)
        assert "Deal 1" not in read.stdout and "o1@" not in read.stdout
        assert "belongs to another tenant" in read.stderr, read.stderr
    assert _rows(project, "acme_x_sales.deals_t") == [1, 2]


def _standalone(project: Project, tmp_path: Path, namespace: str) -> subprocess.CompletedProcess[str]:
    """target-iceberg alone, told it writes for tenant acme, overwriting ``namespace.csv_deals``."""
    config = {
        "warehouse_dir": str(project.root / "warehouse"),
        "namespace": namespace,
        "table_names": {"deals": "csv_deals"},
        "table_properties": {"dativo.tenant": "acme"},
        "write_mode": "overwrite",
    }
    (tmp_path / "t.json").write_text(json.dumps(config))
    schema = {"type": "object", "properties": {"deal_id": {"type": "integer"}}}
    messages = [
        {"type": "SCHEMA", "stream": "deals", "schema": schema, "key_properties": ["deal_id"]},
        {"type": "RECORD", "stream": "deals", "record": {"deal_id": 9}},
        {"type": "STATE", "value": {"bookmarks": {"deals": {"x": 1}}}},
    ]
    return subprocess.run(
        [str(Path(sys.executable).parent / "target-iceberg"), "--config", str(tmp_path / "t.json")],
        input="".join(json.dumps(m) + "\n" for m in messages),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_standalone_target_refuses_a_table_of_another_tenant(project: Project, tmp_path: Path) -> None:
    _victim(project)

    result = _standalone(project, tmp_path, "acme_evil")

    assert result.returncode != 0
    assert "acme_evil belongs to another tenant: tenant 'acme' cannot write" in result.stderr
    assert _rows(project, "acme_evil.csv_deals") == [1, 2]


def test_the_standalone_target_refuses_an_unowned_table_outside_the_default_namespace(
    project: Project, tmp_path: Path
) -> None:
    _legacy_table(project, "acme_old")

    result = _standalone(project, tmp_path, "acme_old")

    assert result.returncode != 0
    assert "table acme_old.csv_deals records no owning tenant" in result.stderr
    assert _rows(project, "acme_old.csv_deals") == [1]
    assert _owner(project, "acme_old.csv_deals") is None


def test_default_namespaces_of_acme_and_acme_evil_do_not_collide(project: Project) -> None:
    _victim(project)
    project.write_deals("a.csv", [ROW.format(n=5)])
    path = project.write_job("deals", project.deals_job())
    result = project.dativo("run", "--config", str(path))

    assert result.returncode == 0, result.stderr
    assert _rows(project, "acme.csv_deals") == [5]
    assert _rows(project, "acme_evil.csv_deals") == [1, 2]
    assert (_owner(project, "acme.csv_deals"), _owner(project, "acme_evil.csv_deals")) == (
        "acme",
        "acme_evil",
    )


def _legacy_table(project: Project, namespace: str) -> None:
    """A table as made before ownership was recorded: written, then its owner properties removed."""
    project.write("data/legacy/a.csv", project.write_deals("a.csv", [ROW.format(n=1)]).read_text())
    source = {"objects": ["deals"], "files": [{"path": "data/legacy/*.csv"}]}
    job = project.deals_job(source=source, target={"namespace": namespace})
    path = project.write_job(f"legacy_{namespace}", job)
    assert project.dativo("run", "--config", str(path)).returncode == 0
    catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
    catalog.update_namespace_properties(namespace, removals={"dativo.tenant"})
    table = catalog.load_table(f"{namespace}.csv_deals")
    with table.transaction() as tx:
        tx.remove_properties("dativo.tenant")


def test_an_unowned_table_is_claimed_only_in_the_tenants_default_namespace(project: Project) -> None:
    _legacy_table(project, "acme")
    _legacy_table(project, "acme_old")

    claimed = _attack(project, {"write_mode": "append"}, name="claim")
    refused = _attack(project, {"namespace": "acme_old", "write_mode": "append"}, name="old")

    assert claimed.returncode == 0, claimed.stderr
    assert _rows(project, "acme.csv_deals") == [1, 7]
    assert _owner(project, "acme.csv_deals") == "acme"
    assert refused.returncode == 2
    errors = _errors(refused.stderr)
    assert (
        len(errors) == 1
        and "target.namespace: table acme_old.csv_deals records no owning tenant" in errors[0]
    )
    assert "dativo.tenant=acme to adopt it" in errors[0]
    assert not (project.root / "state/acme/old.json").exists()  # its bookmark was not taken either
    assert _rows(project, "acme_old.csv_deals") == [1]
    assert _owner(project, "acme_old.csv_deals") is None


def _objects_job(project: Project, prefix: str, tenant: str = "acme", name: str = "to_s3") -> Path:
    from tests import services
    from tests.helpers import objects

    sw = services.seaweedfs()
    project.write(f"secrets/{tenant}/store.env", f"S3_SECRET={sw.secret_key}\n")
    connection = {
        "s3": {
            "bucket": objects.s3_bucket().name,
            "prefix": prefix,
            "endpoint": sw.s3_endpoint,
            "region": sw.region,
            "access_key_id": sw.access_key,
            "secret_access_key": "${S3_SECRET}",
        }
    }
    job = project.deals_job(
        tenant_id=tenant,
        target_connector="s3",
        target_connector_path="connectors/targets/s3.yaml",
        target={"connection": connection},
    )
    return project.write_job(name, job, tenant=tenant)


def test_an_object_root_whose_manifest_records_another_tenant_is_refused(project: Project) -> None:
    from tests.helpers import objects

    bucket, prefix = objects.s3_bucket(), objects.unique_prefix("owner")
    root = f"{prefix}/acme/deals"
    project.write_deals("a.csv", [ROW.format(n=1)])
    job = _objects_job(project, prefix)
    assert project.dativo("run", "--config", str(job), "--secrets-dir", "secrets").returncode == 0
    [key] = bucket.keys(f"{root}/_manifests/")
    manifest = json.loads(bucket.get(key))
    bucket.put(key, json.dumps({**manifest, "tenant": "globex"}).encode())  # data globex owns
    project.write_deals("b.csv", [ROW.format(n=2)])

    result = project.dativo("run", "--config", str(job), "--secrets-dir", "secrets", "--state-dir", "fresh")

    assert result.returncode == 2
    errors = _errors(result.stderr)
    assert len(errors) == 1, result.stderr
    assert "target.connection.s3.prefix:" in errors[0] and "belongs to another tenant" in errors[0]
    assert bucket.keys(f"{root}/_manifests/") == [key]
    assert [r["deal_id"] for r in objects.rows(bucket, root, key="deal_id") or []] == [1]


def test_maintain_never_removes_files_of_a_root_nested_in_its_own(project: Project) -> None:
    from tests.helpers import objects

    bucket, prefix = objects.s3_bucket(), objects.unique_prefix("nested")
    project.write_deals("a.csv", [ROW.format(n=1)])
    # Made while tenant acme was unknown to this home (known, the prefix is refused: below).
    inner = _objects_job(project, f"{prefix}/acme/deals", tenant="acme_x")
    assert project.dativo("run", "--config", str(inner), "--secrets-dir", "secrets").returncode == 0
    outer = _objects_job(project, prefix)
    assert project.dativo("run", "--config", str(outer), "--secrets-dir", "secrets").returncode == 0
    inner_root = f"{prefix}/acme/deals/acme_x/deals"
    inner_keys = bucket.keys(inner_root)

    done = project.dativo(
        "maintain", "--config", str(outer), "--secrets-dir", "secrets", "--older-than-hours", "0", "--json"
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["deleted"] == 0
    assert bucket.keys(inner_root) == inner_keys
    assert [r["deal_id"] for r in objects.rows(bucket, inner_root, key="deal_id") or []] == [1]


def test_an_object_prefix_through_another_known_tenants_key_root_is_refused(project: Project) -> None:
    from tests.helpers import objects

    prefix = objects.unique_prefix("through")
    project.write_deals("a.csv", [ROW.format(n=1)])
    _objects_job(project, prefix)  # tenant acme is known to the home
    inner = _objects_job(project, f"{prefix}/acme/deals", tenant="acme_x")

    for command in ("validate", "run"):
        result = project.dativo(command, "--config", str(inner), "--secrets-dir", "secrets")

        assert result.returncode == 2
        errors = _errors(result.stderr)
        assert len(errors) == 1, result.stderr
        assert "target.connection.s3.prefix: " in errors[0]
        assert "runs through the key root of tenant 'acme'" in errors[0]
    assert objects.s3_bucket().keys(prefix) == []


def test_two_homes_sharing_a_rest_catalog_keep_their_tables(tmp_path: Path, seaweedfs_service: Any) -> None:
    """Tenant ``acme_x`` runs in one home, ``acme`` in another; both reach the same SeaweedFS
    REST catalog. ``acme``'s home knows nothing of ``acme_x``: the recorded owner refuses it."""
    sw = seaweedfs_service
    namespace = f"acme_x_{uuid.uuid4().hex[:8]}"
    s3 = {"endpoint": sw.s3_endpoint, "region": sw.region, "access_key_id": sw.access_key}
    target = {
        "namespace": namespace,
        "warehouse": sw.rest_warehouse,
        "write_mode": "overwrite",
        "connection": {
            "rest": {"uri": sw.rest_uri, "credential": "${REST_CREDENTIAL}"},
            "s3": {**s3, "secret_access_key": "${S3_SECRET}"},
        },
    }
    env = {"REST_CREDENTIAL": sw.rest_credential, "S3_SECRET": sw.secret_key}
    results = []
    for tenant, rows in (("acme_x", [1, 2]), ("acme", [7])):
        home = Project.create(tmp_path / tenant)
        home.write_deals("a.csv", [ROW.format(n=n) for n in rows])
        job = home.write_job("deals", home.deals_job(tenant_id=tenant, target=target), tenant=tenant)
        results.append(home.dativo("run", "--config", str(job), env=env))

    assert results[0].returncode == 0, results[0].stderr
    assert results[1].returncode == 2
    errors = _errors(results[1].stderr)
    assert len(errors) == 1, results[1].stderr
    assert f"target.namespace: table {namespace}.csv_deals belongs to another tenant" in errors[0]
    props = {
        "type": "rest",
        "uri": sw.rest_uri,
        "credential": sw.rest_credential,
        "warehouse": sw.rest_warehouse,
    }
    table = open_catalog({"catalog": {**props, **sw.s3_props()}}).load_table(f"{namespace}.csv_deals")
    assert sorted(table.scan().to_arrow().column("deal_id").to_pylist()) == [1, 2]
    assert table.properties["dativo.tenant"] == "acme_x"
