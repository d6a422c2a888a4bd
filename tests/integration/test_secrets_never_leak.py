"""A known secret, used by a job, appears nowhere: not in stdout, stderr, state or summaries."""

from __future__ import annotations

import pytest

from tests.helpers.project import Project

pytestmark = pytest.mark.integration

SECRET = "sk_live_Zx9TopSecretValue42"
ROW = "1,A - X,A,proposal,10.00,USD,0.5,false,a@example.com,2024-01-01T00:00:00Z,"


def _catalog(project: Project, uri: str | None = None) -> dict[str, str]:
    warehouse = project.root / "warehouse"
    warehouse.mkdir(exist_ok=True)
    return {
        "type": "sql",
        "uri": uri or f"sqlite:///{warehouse}/catalog.db",
        "warehouse": warehouse.as_uri(),
        "s3.secret-access-key": "${WAREHOUSE_SECRET}",
    }


def _all_written_text(project: Project) -> str:
    texts = []
    for folder in ("state", "warehouse"):
        for path in project.files_under(folder):
            if path.suffix in (".json", ".db", ".avro", ".parquet"):
                texts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(texts)


def test_secret_from_secrets_dir_is_never_printed_or_stored(project: Project) -> None:
    project.write("secrets/acme/warehouse.env", f"WAREHOUSE_SECRET={SECRET}\n")
    project.write_deals("a.csv", [ROW])
    job = project.write_job("deals", project.deals_job(target={"catalog": _catalog(project)}))

    for extra in ([], ["--json"], ["--verbose"]):
        result = project.dativo("run", "--config", str(job), "--secrets-dir", "secrets", *extra)
        assert result.returncode == 0, result.stderr
        assert SECRET not in result.stdout
        assert SECRET not in result.stderr
    assert project.files_under("state"), "the run should have written state"
    assert SECRET not in _all_written_text(project)


def test_secret_in_a_failing_service_error_is_masked(project: Project) -> None:
    project.write("secrets/acme/warehouse.json", f'{{"WAREHOUSE_SECRET": "{SECRET}"}}')
    project.write_deals("a.csv", [ROW])
    catalog = {
        "type": "rest",
        "uri": "http://127.0.0.1:9/catalog",
        "credential": "client:${WAREHOUSE_SECRET}",
    }
    job = project.write_job("deals", project.deals_job(target={"catalog": catalog}))

    result = project.dativo("run", "--config", str(job), "--secrets-dir", "secrets", "--verbose")

    assert result.returncode == 2
    assert "cannot open Iceberg catalog" in result.stderr
    assert SECRET not in result.stdout
    assert SECRET not in result.stderr
    assert project.files_under("state") == []


def test_secret_from_environment_with_secret_like_name_is_masked(project: Project) -> None:
    project.write_deals("a.csv", [ROW])
    job = project.deals_job(
        target={
            "catalog": _catalog(
                project, uri="postgresql+psycopg2://dativo:${DB_PASSWORD}@127.0.0.1:9/nowhere"
            )
        }
    )
    path = project.write_job("deals", job)
    result = project.dativo(
        "run",
        "--config",
        str(path),
        "--verbose",
        env={"DB_PASSWORD": SECRET, "WAREHOUSE_SECRET": "x"},
    )
    assert SECRET not in result.stdout
    assert SECRET not in result.stderr
    assert result.returncode == 2
    assert "cannot open Iceberg catalog" in result.stderr


@pytest.mark.parametrize("source", ["secrets-dir", "environment"])
def test_a_secret_inside_an_error_message_is_masked(project: Project, source: str) -> None:
    # The secret is part of a path: refused before any file is looked for (secrets never become
    # names, tests/integration/test_secrets_never_names.py); the error line quotes that path
    # masked, or as written when the value came from the environment.
    job = project.deals_job(source={"objects": ["deals"], "files": [{"path": "data/${API_TOKEN}/*.csv"}]})
    path = project.write_job("deals", job)
    args = ["run", "--config", str(path)]
    env = {}
    if source == "secrets-dir":
        project.write("secrets/acme/api.env", f"API_TOKEN={SECRET}\n")
        args += ["--secrets-dir", "secrets"]
    else:
        env["API_TOKEN"] = SECRET
    result = project.dativo(*args, env=env)

    assert result.returncode == 2
    shown = "data/****/*.csv" if source == "secrets-dir" else "data/${API_TOKEN}/*.csv"
    assert f"source.files[0].path: '{shown}' would put ${{API_TOKEN}}" in result.stderr
    assert SECRET not in result.stdout + result.stderr


# --- Every connector, success and failure paths, scanned by one helper ------------------------

PG_PASSWORD = "pgPw-Dativo-LEAKCHECK-7f3Q2"
MY_PASSWORD = "myPw-Dativo-LEAKCHECK-9k1Z4"
STRIPE_KEY = "sk_test_LEAKCHECK_4eC39HqLyjWDarjtT1zdp7dc"
HUBSPOT_TOKEN = "pat-na1-LEAKCHECK-11112222-3333-4444-5555-666677778888"
WRONG = "-WRONG-LEAKCHECK-0000"
FAST = {
    "max_requests_per_second": 0,
    "backoff_base_seconds": 0.005,
    "max_backoff_seconds": 0.02,
    "max_tries": 2,
}


def _repo_job(project: Project, name: str, as_name: str, **source: object) -> str:
    import yaml

    from tests.helpers.project import REPO

    job = yaml.safe_load((REPO / "jobs" / "acme" / f"{name}.yaml").read_text())
    job["source"].update(source)
    return str(project.write_job(as_name, job))


def _run_all(project: Project, runs: list[tuple[str, dict[str, str], int]]) -> list[str]:
    """Each job run with --verbose and its env; the exit code checked; every output returned."""
    from concurrent.futures import ThreadPoolExecutor

    def one(run: tuple[str, dict[str, str], int]) -> str:
        job, env, code = run
        result = project.dativo("run", "--config", job, "--secrets-dir", "secrets", "--verbose", env=env)
        assert result.returncode == code, f"{job}: {result.returncode}\n{result.stderr[-3000:]}"
        return f"{job} stdout:\n{result.stdout}\n{job} stderr:\n{result.stderr}"

    with ThreadPoolExecutor(3) as pool:
        return list(pool.map(one, runs))


def _scan_project(scan: object, project: Project, outputs: list[str]) -> None:
    from tests.helpers.secret_scan import SecretScan

    assert isinstance(scan, SecretScan)
    for number, text in enumerate(outputs):
        scan.text(f"output of run {number}", text)
    for path in sorted(project.root.iterdir()):
        if path.name != "secrets":  # state, warehouse, dead letters, logs, jobs, .dativo
            scan.tree(path)


def test_database_sources_and_s3_targets_never_leak(project: Project, pg_service, mariadb_service) -> None:
    from target_iceberg.catalog import open_catalog

    from tests import services
    from tests.helpers import objects
    from tests.helpers.databases import create_orders, mariadb_database, pg_schema
    from tests.helpers.secret_scan import SecretScan

    sw, bucket = services.seaweedfs(), objects.s3_bucket()
    services.ensure_s3_bucket()
    prefix = objects.unique_prefix("leak-db")
    project.write(
        "secrets/acme/db.env",
        f"PG_PASSWORD={PG_PASSWORD}\nMYSQL_PASSWORD={MY_PASSWORD}\nMYSQL_WRONG_PASSWORD={MY_PASSWORD}{WRONG}\nS3_SECRET_ACCESS_KEY={sw.secret_key}\n"
        f"S3_ACCESS_KEY_ID={sw.access_key}\nDATIVO_HASH_SALT=leak-salt\n",
    )
    with pg_schema(pg_service.dsn) as (schema, pg), mariadb_database(mariadb_service) as (database, my):
        create_orders(pg, f'"{schema}".orders')
        pg.execute(
            f"INSERT INTO \"{schema}\".orders VALUES (1, 10, 'new', 1.5, 'USD', 'a@x.io', now(), now())"
        )
        my.execute(
            "CREATE TABLE customers (customer_id int PRIMARY KEY, email varchar(200), full_name varchar(200), "
            "country char(2), is_active tinyint(1), lifetime_value decimal(14,2), "
            "created_at datetime(6) NOT NULL, updated_at timestamp(6) NOT NULL DEFAULT current_timestamp(6))"
        )
        my.execute("INSERT INTO customers VALUES (1, 'a@x.io', 'Ana', 'PT', 1, 1.5, now(6), now(6))")
        user = f"u_{database[-8:]}"
        my.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{MY_PASSWORD}'")
        try:
            my.execute(f"GRANT SELECT ON `{database}`.* TO '{user}'@'%'")
            import yaml

            from tests.helpers.project import REPO

            pg_job = yaml.safe_load((REPO / "jobs" / "acme" / "postgres_orders_to_iceberg.yaml").read_text())
            pg_job["source"]["objects"] = [f"{schema}.orders"]
            s3 = {
                "bucket": sw.bucket,
                "prefix": prefix,
                "endpoint": sw.s3_endpoint,
                "region": sw.region,
                "access_key_id": "${S3_ACCESS_KEY_ID}",
                "secret_access_key": "${S3_SECRET_ACCESS_KEY}",
            }
            pg_job["target"] = {"connection": {"s3": s3}}
            pg_ok = str(project.write_job("pg_ok", pg_job))
            pg_job["source"]["connection"]["database"] = "no_such_db_leakcheck"
            pg_bad = str(project.write_job("pg_bad", pg_job))
            my_job = yaml.safe_load((REPO / "jobs" / "acme" / "mysql_customers_to_s3.yaml").read_text())
            my_job["target"]["connection"]["s3"]["prefix"] = f"{prefix}-raw"
            my_ok = str(project.write_job("my_ok", my_job))
            my_job["source"]["connection"]["password"] = "${MYSQL_WRONG_PASSWORD}"
            my_bad = str(project.write_job("my_bad", my_job))
            pg_env = {
                "PG_HOST": pg_service.host,
                "PG_PORT": str(pg_service.port),
                "PG_USER": pg_service.user,
                "PG_DATABASE": pg_service.db,
            }
            my_env = {
                "MYSQL_HOST": mariadb_service.host,
                "MYSQL_PORT": str(mariadb_service.port),
                "MYSQL_USER": user,
                "MYSQL_DATABASE": database,
                "S3_BUCKET": sw.bucket,
                "S3_ENDPOINT": sw.s3_endpoint,
            }
            outputs = _run_all(
                project, [(pg_ok, pg_env, 0), (pg_bad, pg_env, 2), (my_ok, my_env, 0), (my_bad, my_env, 2)]
            )
        finally:
            my.execute(f"DROP USER '{user}'@'%'")

    scan = SecretScan(
        {
            "postgres password": PG_PASSWORD,
            "mysql password": MY_PASSWORD,
            "wrong mysql password": MY_PASSWORD + WRONG,
            "S3 secret key": sw.secret_key,
        }
    )
    _scan_project(scan, project, outputs)
    catalog = open_catalog(
        {
            "catalog": {
                "type": "sql",
                "uri": f"sqlite:///{project.root / 'warehouse' / 'catalog.db'}",
                "warehouse": f"s3://{sw.bucket}/{prefix}",
                **sw.s3_props(),
            }
        }
    )
    table = catalog.load_table("acme.db_orders")
    assert len(table.scan().to_arrow()) == 1
    scan.iceberg(table)
    scan.bucket(bucket, f"{prefix}/")  # the Iceberg data, metadata and manifests on S3
    scan.bucket(bucket, f"{prefix}-raw/")  # the MariaDB job's Parquet files and manifests
    assert any(key.endswith(".parquet") for key in bucket.keys(f"{prefix}-raw/"))
    scan.assert_clean(minimum_places=10)


def test_saas_google_and_file_sources_never_leak(project: Project) -> None:
    import json

    import boto3
    import yaml
    from botocore.config import Config
    from target_iceberg.catalog import open_catalog

    from tests import services
    from tests.emulators.google import GoogleEmulator
    from tests.emulators.hubspot import HubSpotEmulator
    from tests.emulators.server import serve
    from tests.emulators.stripe import StripeEmulator
    from tests.helpers import objects
    from tests.helpers.google import FOLDER, populate
    from tests.helpers.project import REPO
    from tests.helpers.secret_scan import SecretScan

    sw, az = services.seaweedfs(), services.azurite()
    services.ensure_s3_bucket()
    container, prefix = objects.azure_container(), objects.unique_prefix("leak-saas")
    s3 = boto3.client(
        "s3",
        endpoint_url=sw.s3_endpoint,
        aws_access_key_id=sw.access_key,
        aws_secret_access_key=sw.secret_key,
        region_name=sw.region,
        config=Config(s3={"addressing_style": "path"}),
    )
    s3.put_object(Bucket=sw.bucket, Key=f"{prefix}/md/a.md", Body=b"# Ana\n\n- role: dev\n")
    with (
        serve(StripeEmulator({"customers": 3}, api_key=STRIPE_KEY)) as stripe,
        serve(HubSpotEmulator({"contacts": 2}, token=HUBSPOT_TOKEN)) as hubspot,
        serve(GoogleEmulator()) as google_emulator,
    ):
        google = populate(google_emulator)  # type: ignore[arg-type]
        project.write(
            "secrets/acme/api.env",
            f"STRIPE_API_KEY={STRIPE_KEY}\nHUBSPOT_ACCESS_TOKEN={HUBSPOT_TOKEN}"
            f"{WRONG}\nAZURE_KEY={az.key}\nS3_SECRET={sw.secret_key}\nDATIVO_HASH_SALT=leak-salt\n",
        )
        project.write("secrets/acme/google.json", json.dumps({"GOOGLE_SERVICE_ACCOUNT_KEY": google.key}))
        azure = {
            "container": container.client.container_name,
            "prefix": prefix,
            "account_name": az.account,
            "account_key": "${AZURE_KEY}",
            "endpoint": az.blob_endpoint,
        }
        stripe_job = yaml.safe_load((REPO / "jobs/acme/stripe_customers_to_iceberg.yaml").read_text())
        stripe_job["source"].update(api_url=stripe.url, **FAST)
        stripe_job.update(
            target_connector="azure_blob",
            target_connector_path="connectors/targets/azure_blob.yaml",
            target={"format": "parquet", "connection": {"azure": azure}},
        )
        stripe_ok = str(project.write_job("stripe_ok", stripe_job))
        project.write("secrets/globex/api.env", f"STRIPE_API_KEY={STRIPE_KEY}{WRONG}\n")
        stripe_job["tenant_id"] = "globex"  # its own (wrong) key: a 401, and acme's never read
        stripe_401 = str(project.write_job("stripe_401", stripe_job, tenant="globex"))
        hubspot_401 = _repo_job(
            project, "hubspot_contacts_to_iceberg", "hubspot_401", api_url=hubspot.url, **FAST
        )
        gdrive_ok = _repo_job(
            project,
            "gdrive_deals_to_iceberg",
            "gdrive_ok",
            api_url=google_emulator.url,
            files=[{"folder_id": FOLDER, "name_pattern": "deals_*"}],
            **FAST,
        )
        md_job = yaml.safe_load((REPO / "jobs/acme/markdown_kv_documents_to_iceberg.yaml").read_text())
        md_job["source"].update(
            files=[{"path": f"s3://{sw.bucket}/{prefix}/md/"}],
            connection={
                "s3": {
                    "endpoint": sw.s3_endpoint,
                    "region": sw.region,
                    "access_key_id": sw.access_key,
                    "secret_access_key": "${S3_SECRET}",
                }
            },
        )
        md_ok = str(project.write_job("md_ok", md_job))
        outputs = _run_all(
            project,
            [
                (stripe_ok, {}, 0),
                (stripe_401, {}, 2),
                (hubspot_401, {}, 2),
                (gdrive_ok, {}, 0),
                (md_ok, {}, 0),
            ],
        )
    assert "401" in outputs[1] + outputs[2] or "nauthorized" in outputs[1] + outputs[2], outputs[1][-2000:]

    scan = SecretScan(
        {
            "stripe key": STRIPE_KEY,
            "wrong stripe key": STRIPE_KEY + WRONG,
            "hubspot token": HUBSPOT_TOKEN + WRONG,
            "azure key": az.key,
            "S3 secret": sw.secret_key,
            "google private key": google.key["private_key"],
            "google private key id": google.key["private_key_id"],
        }
    )
    _scan_project(scan, project, outputs)
    catalog = open_catalog({"warehouse_dir": str(project.root / "warehouse")})
    for name in ("acme.gdrive_deals_daily", "acme.markdown_kv_documents"):
        table = catalog.load_table(name)
        assert len(table.scan().to_arrow()) > 0, name
        scan.iceberg(table)
    scan.bucket(container, f"{prefix}/")
    assert any(key.endswith(".parquet") for key in container.keys(f"{prefix}/"))
    scan.assert_clean(minimum_places=10)


def test_orchestrated_runs_keep_secrets_out_of_dagster(project: Project) -> None:
    """One good and one failing job materialized by Dagster (in process): the secret is in no
    event of the event log (serialized whole), no run record (config, tags) and no output."""
    import dagster as dg
    import yaml
    from dagster._serdes import serialize_value

    from dativo_runner.home import ProjectHome
    from dativo_runner.orchestration import build_definitions, load_runner_config
    from tests.helpers.secret_scan import SecretScan

    project.write("secrets/acme/warehouse.env", f"WAREHOUSE_SECRET={SECRET}\n")
    project.write_deals("a.csv", [ROW])
    project.write_job("ok", project.deals_job(target={"catalog": _catalog(project)}))
    failing = {
        "type": "rest",
        "uri": "http://127.0.0.1:9/catalog",
        "credential": "client:${WAREHOUSE_SECRET}",
    }
    project.write("secrets/globex/warehouse.env", f"WAREHOUSE_SECRET={SECRET}\n")
    project.write_job(
        "bad", project.deals_job(tenant_id="globex", target={"catalog": failing}), tenant="globex"
    )
    schedules = [
        {"name": n, "config": f"jobs/{tenant}/{n}.yaml", "cron": "0 * * * *"}
        for n, tenant in (("ok", "acme"), ("bad", "globex"))
    ]
    runner = {
        "type": "dagster",
        "schedules": schedules,
        "concurrency_per_tenant": 1,
        "secrets_dir": "secrets",
    }
    path = project.write(
        "configs/runner.yaml", yaml.safe_dump({"runner": {"mode": "orchestrated", "orchestrator": runner}})
    )
    defs = build_definitions(load_runner_config(path, ProjectHome(project.root)))
    instance = dg.DagsterInstance.ephemeral()
    scan = SecretScan({"warehouse secret": SECRET})
    outcomes = {}
    for name in ("ok", "bad"):
        result = defs.resolve_job_def(f"{name}_job").execute_in_process(
            instance=instance, raise_on_error=False
        )
        outcomes[name] = result.success
        run = instance.get_run_by_id(result.run_id)
        scan.text(f"run record {name}", serialize_value(run))
        for entry in instance.all_logs(result.run_id):
            scan.text(f"event of {name}", serialize_value(entry))
    assert outcomes == {"ok": True, "bad": False}
    for folder in ("state", "warehouse"):
        scan.tree(project.root / folder)
    scan.assert_clean(minimum_places=10)
