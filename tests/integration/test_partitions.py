"""Partitioned jobs: each slice run alone with its own bookmark committed with the data; slices
run side by side into one Iceberg table (embedded catalog, REST catalog on SeaweedFS) land every
row once, and a slice's rerun loads only its own new rows."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from target_iceberg.bookmark import latest_bookmark
from target_iceberg.catalog import open_catalog

from tests.helpers.databases import pg_schema
from tests.helpers.project import DEALS_HEADER, REPO, Project

pytestmark = pytest.mark.integration

DATIVO_RUN = [sys.executable, "-m", "dativo_runner", "run", "--json", "--config"]
REGIONS = {"eu": range(1, 4), "us": range(4, 7)}


def _deal_rows(ids: range | list[int]) -> list[str]:
    return [f"{i},D{i},C,proposal,{i}.50,USD,0.5,false,o@x.io,2024-01-01T00:00:00Z," for i in ids]


def _write_region(project: Project, region: str, name: str, ids: range | list[int]) -> None:
    project.write(f"data/deals/{region}/{name}", "\n".join([DEALS_HEADER, *_deal_rows(ids)]) + "\n")


def _csv_job(project: Project) -> Path:
    static = {region: {"path": f"data/deals/{region}/*.csv"} for region in REGIONS}
    return project.write_job("deals", project.deals_job(partitions={"static": static}))


def _table(project: Project, identifier: str, catalog: dict[str, Any] | None = None) -> Any:
    config = {"catalog": catalog} if catalog else {"warehouse_dir": str(project.root / "warehouse")}
    return open_catalog(config).load_table(identifier)


def _bookmark(table: Any, key: str) -> dict[str, Any] | None:
    found = latest_bookmark(table, None, f"dativo.singer-state.{key}")
    return json.loads(found[0]) if found else None


def test_unknown_partition_is_one_line_naming_the_valid_keys(project: Project) -> None:
    for region, ids in REGIONS.items():
        _write_region(project, region, "a.csv", ids)
    job = _csv_job(project)
    result = project.dativo("run", "--config", str(job), "--partition", "asia")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("dativo: error:")]
    assert errors == [
        "dativo: error: jobs/acme/deals.yaml: partitions: unknown partition 'asia'; valid keys: eu, us"
    ]
    assert not (project.root / "warehouse").exists()


def test_a_source_that_cannot_slice_is_refused_by_validate(project: Project) -> None:
    project.write_deals("a.csv", _deal_rows(REGIONS["eu"]))
    job = project.write_job(
        "deals", project.deals_job(partitions={"static": {"eu": {"where": "region = 'eu'"}}})
    )
    result = project.dativo("validate", "--config", str(job))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "dativo: error: jobs/acme/deals.yaml: partitions: source 'csv' cannot slice by where "
        "(it slices by path)"
    )


def test_csv_slices_in_turn_then_one_slice_resumes_from_its_own_bookmark(project: Project) -> None:
    for region, ids in REGIONS.items():
        _write_region(project, region, "a.csv", ids)
    job = _csv_job(project)
    code, summary, stderr = project.run_json("--config", str(job))
    assert code == 0, stderr
    runs = {run["partition"]: run for run in summary["jobs"]}
    assert {key: run["streams"][0]["rows"] for key, run in runs.items()} == {"eu": 3, "us": 3}
    assert runs["eu"]["state_file"] == "state/acme/deals.eu.json"
    table = _table(project, "acme.csv_deals")
    assert sorted(table.scan().to_arrow().column("deal_id").to_pylist()) == [1, 2, 3, 4, 5, 6]
    eu_files = set(_bookmark(table, "eu")["bookmarks"]["deals"]["files"])  # type: ignore[index]
    assert {Path(f).parent.name for f in eu_files} == {"eu"}
    assert latest_bookmark(table) is None  # the unpartitioned bookmark is not written

    _write_region(project, "eu", "b.csv", [7, 8])
    _write_region(project, "us", "b.csv", [9])
    code, summary, stderr = project.run_json("--config", str(job), "--partition", "eu")
    assert code == 0, stderr
    assert (summary["partition"], summary["streams"][0]["rows"]) == ("eu", 2)
    table = _table(project, "acme.csv_deals")
    assert sorted(table.scan().to_arrow().column("deal_id").to_pylist()) == [1, 2, 3, 4, 5, 6, 7, 8]
    us_files = _bookmark(table, "us")["bookmarks"]["deals"]["files"]  # type: ignore[index]
    assert [Path(f).name for f in us_files] == ["a.csv"]  # us untouched: its b.csv waits for its run


def test_every_slice_in_turn_exits_with_the_worst_outcome(project: Project) -> None:
    _write_region(project, "eu", "a.csv", REGIONS["eu"])
    project.write("data/deals/bad/a.csv", "foo,bar\n1,2\n")  # no column of the asset
    static = {"eu": {"path": "data/deals/eu/*.csv"}, "bad": {"path": "data/deals/bad/*.csv"}}
    job = project.write_job("deals", project.deals_job(partitions={"static": static}))
    result = project.dativo("run", "--config", str(job))
    assert result.returncode == 2  # the worst: one slice failed, one succeeded
    lines = result.stdout.splitlines()
    assert lines[0].startswith("job jobs/acme/deals.yaml partition eu (tenant acme): succeeded")
    assert lines[2].startswith("job jobs/acme/deals.yaml partition bad (tenant acme): failed")
    assert lines[-1] == "2 runs: 1 succeeded, 1 failed"
    errors = [line for line in result.stderr.splitlines() if line.startswith("dativo: error:")]
    assert len(errors) == 1 and errors[0].startswith(
        "dativo: error: jobs/acme/deals.yaml: partition bad: tap-csv failed"
    )
    ids = _table(project, "acme.csv_deals").scan().to_arrow().column("deal_id").to_pylist()
    assert sorted(ids) == [1, 2, 3]


def _pg_job(project: Project, pg_service: Any, table: str, partitions: dict[str, Any], target: dict) -> Path:
    job = yaml.safe_load((REPO / "jobs" / "acme" / "postgres_orders_to_iceberg.yaml").read_text())
    job["source"]["objects"] = [table]
    job["source"]["connection"] = {
        "host": pg_service.host,
        "port": pg_service.port,
        "user": pg_service.user,
        "database": pg_service.db,
    }
    job["source"]["incremental"] = {"strategy": "cursor_column", "cursor_field": "updated_at"}
    job["partitions"] = partitions
    job["target"] = target
    return project.write_job("orders", job)


def _rest_target(sw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The job's target block for the REST catalog on SeaweedFS, and the catalog's properties."""
    namespace = f"acme_{uuid.uuid4().hex[:8]}"
    s3 = {
        "endpoint": sw.s3_endpoint,
        "region": sw.region,
        "access_key_id": sw.access_key,
        "secret_access_key": sw.secret_key,
    }
    target = {
        "namespace": namespace,
        "warehouse": sw.rest_warehouse,
        "connection": {"rest": {"uri": sw.rest_uri, "credential": sw.rest_credential}, "s3": s3},
    }
    props = {
        "type": "rest",
        "uri": sw.rest_uri,
        "credential": sw.rest_credential,
        "warehouse": sw.rest_warehouse,
        **sw.s3_props(),
    }
    return target, props


def _run_side_by_side(project: Project, job: Path, keys: list[str]) -> dict[str, dict[str, Any]]:
    """``dativo run --partition KEY`` for every key at once; each one's JSON summary."""
    runs = {
        key: subprocess.Popen(
            [*DATIVO_RUN, str(job), "--partition", key, "--home", str(project.root)],
            cwd=project.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for key in keys
    }
    summaries = {}
    for key, run in runs.items():
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err[-3000:]
        summaries[key] = json.loads(out)
    return summaries


@pytest.mark.parametrize("catalog", ["embedded", "rest"])
def test_postgres_partitions_side_by_side_land_every_row_once(
    project: Project, pg_service, catalog: str, request: pytest.FixtureRequest
) -> None:
    props: dict[str, Any] | None = None
    target: dict[str, Any] = {}
    if catalog == "rest":
        target, props = _rest_target(request.getfixturevalue("seaweedfs_service"))
    keys = [f"p{k}" for k in range(4)] if catalog == "embedded" else ["p0", "p1"]
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(
            f'CREATE TABLE "{schema}".orders (order_id bigint PRIMARY KEY, customer_id bigint, status text, '
            "amount numeric(12,2), currency char(3), customer_email text, created_at timestamptz, "
            "updated_at timestamptz NOT NULL)"
        )
        insert = f"INSERT INTO \"{schema}\".orders SELECT g, g, 'new', g, 'USD', NULL, now(), now() - make_interval(secs => 1000 - g)"
        cursor.execute(insert + " FROM generate_series(1, 400) g")
        static = {key: {"where": f"order_id % {len(keys)} = {n}"} for n, key in enumerate(keys)}
        job = _pg_job(project, pg_service, f"{schema}.orders", {"static": static}, target)
        summaries = _run_side_by_side(project, job, keys)
        assert {k: s["streams"][0]["rows"] for k, s in summaries.items()} == {
            k: 400 // len(keys) for k in keys
        }
        assert {s["partition"] for s in summaries.values()} == set(keys)
        identifier = summaries[keys[0]]["streams"][0]["table"]
        table = _table(project, identifier, props)
        ids = table.scan(selected_fields=("order_id",)).to_arrow().column("order_id").to_pylist()
        assert sorted(ids) == list(range(1, 401))
        for n, key in enumerate(keys):
            last = max(i for i in range(1, 401) if i % len(keys) == n)
            bookmark = _bookmark(table, key)["bookmarks"]["orders"]  # type: ignore[index]
            cursor.execute(f'SELECT updated_at FROM "{schema}".orders WHERE order_id = %s', (last,))
            assert bookmark["replication_key_value"][:19] == cursor.fetchone()[0].isoformat()[:19].replace(
                " ", "T"
            )

        # New rows in every slice; only p1 runs again: it loads its own new rows alone.
        cursor.execute(insert.replace("1000 - g", "g - 1000") + " FROM generate_series(401, 420) g")
        code, summary, stderr = project.run_json("--config", str(job), "--partition", "p1")
        assert code == 0, stderr
        new_p1 = [i for i in range(401, 421) if i % len(keys) == 1]
        # The bookmark's own row is read again (the cursor is inclusive) and merged on its key.
        assert summary["streams"][0]["rows"] == len(new_p1) + 1
        table = _table(project, identifier, props)
        ids = table.scan(selected_fields=("order_id",)).to_arrow().column("order_id").to_pylist()
        assert sorted(ids) == sorted([*range(1, 401), *new_p1])


def test_postgres_monthly_windows(project: Project, pg_service) -> None:
    with pg_schema(pg_service.dsn) as (schema, cursor):
        cursor.execute(
            f'CREATE TABLE "{schema}".orders (order_id bigint PRIMARY KEY, customer_id bigint, status text, '
            "amount numeric(12,2), currency char(3), customer_email text, created_at timestamptz NOT NULL, "
            "updated_at timestamptz NOT NULL)"
        )
        cursor.execute(
            f"INSERT INTO \"{schema}\".orders VALUES (1, 1, 'a', 1, 'USD', NULL, '2024-01-31 23:59:59+00', now()), "
            "(2, 1, 'a', 1, 'USD', NULL, '2024-02-01 00:00:00+00', now()), "
            "(3, 1, 'a', 1, 'USD', NULL, '2024-03-15 12:00:00+00', now()), "
            "(4, 1, 'a', 1, 'USD', NULL, '2024-04-01 00:00:00+00', now())"
        )
        window = {"column": "created_at", "unit": "month", "start": "2024-02-01", "end": "2024-04-01"}
        job = _pg_job(project, pg_service, f"{schema}.orders", {"time_window": window}, {})
        code, summary, stderr = project.run_json("--config", str(job))
        assert code == 0, stderr
        rows = {run["partition"]: run["streams"][0]["rows"] for run in summary["jobs"]}
        assert rows == {"2024-02": 1, "2024-03": 1}  # January is before the start, April past the end
        ids = _table(project, "acme.db_orders").scan().to_arrow().column("order_id").to_pylist()
        assert sorted(ids) == [2, 3]


def test_stripe_monthly_windows_filter_created(project: Project) -> None:
    from tests.emulators.server import serve
    from tests.emulators.stripe import API_KEY, StripeEmulator

    with serve(StripeEmulator({"customers": 0})) as emulator:
        stripe: StripeEmulator = emulator  # type: ignore[assignment]
        for day in ("2023-12-31", "2024-01-05", "2024-01-31", "2024-02-10", "2024-03-01"):
            stripe.create(
                "customers", created=int(dt.datetime.fromisoformat(f"{day}T12:00:00+00:00").timestamp())
            )
        job = yaml.safe_load((REPO / "jobs" / "acme" / "stripe_customers_to_iceberg.yaml").read_text())
        job["source"].update(api_url=stripe.url, max_requests_per_second=0)
        window = {"column": "created", "unit": "month", "start": "2024-01-01", "end": "2024-03-01"}
        path = project.write_job("customers", {**job, "partitions": {"time_window": window}})
        project.write("secrets/acme/api.env", f"STRIPE_API_KEY={API_KEY}\n")
        code, summary, stderr = project.run_json("--config", str(path), "--secrets-dir", "secrets")
        assert code == 0, stderr
        assert {run["partition"]: run["streams"][0]["rows"] for run in summary["jobs"]} == {
            "2024-01": 2,
            "2024-02": 1,
        }
        created = _table(project, "acme.stripe_customers").scan().to_arrow().column("created").to_pylist()
        assert sorted(c.date().isoformat() for c in created) == ["2024-01-05", "2024-01-31", "2024-02-10"]


def test_hubspot_daily_windows_filter_createdate(project: Project) -> None:
    from tests.emulators.hubspot import TOKEN, HubSpotEmulator
    from tests.emulators.server import serve

    with serve(HubSpotEmulator({"contacts": 5, "companies": 0, "deals": 0})) as emulator:
        hubspot: HubSpotEmulator = emulator  # type: ignore[assignment]
        days = ("2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03", "2024-01-04")
        for record, day in zip(hubspot.records["contacts"], days, strict=True):
            record["properties"]["createdate"] = f"{day}T08:00:00.000Z"
            record["properties"]["lastmodifieddate"] = f"{day}T09:00:00.000Z"
        job = yaml.safe_load((REPO / "jobs" / "acme" / "hubspot_contacts_to_iceberg.yaml").read_text())
        job["source"].update(api_url=hubspot.url, max_requests_per_second=0)
        window = {"column": "createdate", "unit": "day", "start": "2024-01-02", "end": "2024-01-04"}
        path = project.write_job("contacts", {**job, "partitions": {"time_window": window}})
        project.write("secrets/acme/api.env", f"HUBSPOT_ACCESS_TOKEN={TOKEN}\n")
        code, summary, stderr = project.run_json("--config", str(path), "--secrets-dir", "secrets")
        assert code == 0, stderr
        rows = {run["partition"]: run["streams"][0]["rows"] for run in summary["jobs"]}
        assert rows == {"2024-01-02": 2, "2024-01-03": 1}
        created = _table(project, "acme.hubspot_contacts").scan().to_arrow().column("createdate").to_pylist()
        assert sorted(c.date().isoformat() for c in created) == ["2024-01-02", "2024-01-02", "2024-01-03"]


def test_a_window_on_another_column_is_refused_by_validate(project: Project) -> None:
    job = yaml.safe_load((REPO / "jobs" / "acme" / "hubspot_contacts_to_iceberg.yaml").read_text())
    window = {"column": "lastmodifieddate", "unit": "day", "start": "2024-01-01", "end": "2024-01-03"}
    path = project.write_job("contacts", {**job, "partitions": {"time_window": window}})
    result = project.dativo("validate", "--config", str(path), "--no-secrets")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "dativo: error: jobs/acme/contacts.yaml: partitions.time_window.column: 'lastmodifieddate': HubSpot "
        "contacts, companies and deals are sliced by 'createdate' (a search filter)"
    )
