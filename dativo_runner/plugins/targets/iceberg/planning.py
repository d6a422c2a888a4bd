"""target-iceberg config from a job's ``target`` block, its asset and the governance policy.

The job shape of the product's original README maps as follows: ``target.catalog`` is passed to
pyiceberg verbatim; otherwise ``connection.nessie.uri`` / ``connection.rest.uri`` make a REST
catalog, ``warehouse`` (or ``connection.s3.bucket`` + ``prefix``, or ``connection.azure``) the
warehouse location, and with no catalog URI the embedded SQLite catalog under the project home
records the tables. ``branch`` is the Iceberg branch written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dativo_runner.policy import column_policies, load_policy

if TYPE_CHECKING:
    from dativo_runner.job_config import Job

_S3_PROPS = {
    "endpoint": "s3.endpoint",
    "region": "s3.region",
    "access_key_id": "s3.access-key-id",
    "secret_access_key": "s3.secret-access-key",
    "session_token": "s3.session-token",
}
_AZURE_PROPS = {
    "connection_string": "adls.connection-string",
    "account_name": "adls.account-name",
    "account_key": "adls.account-key",
    "sas_token": "adls.sas-token",
}
_FSSPEC_IO = "pyiceberg.io.fsspec.FsspecFileIO"


def dead_letter_dir(job: Job) -> Path:
    """``<home>/dead_letter/<tenant>/<job>``: rejected records of the job's runs."""
    return job.home.root / "dead_letter" / job.tenant_id / job.name


def _governance_properties(job: Job) -> dict[str, str]:
    governance = job.asset.governance
    props = {
        "dativo.asset": job.asset.name,
        "dativo.asset-version": job.asset.version,
        "dativo.tenant": job.tenant_id,
    }
    if governance.get("owner"):
        props["owner"] = str(governance["owner"])
    if governance.get("tags"):
        props["dativo.tags"] = ",".join(governance["tags"])
    if governance.get("classification"):
        props["dativo.classification"] = ",".join(governance["classification"])
    if governance.get("retention_days"):
        props["dativo.retention-days"] = str(governance["retention_days"])
    return props


def _rest_uri(connection: dict[str, Any]) -> str | None:
    if (connection.get("rest") or {}).get("uri"):
        return str(connection["rest"]["uri"])
    uri = (connection.get("nessie") or {}).get("uri")
    if not uri:
        return None
    # Nessie serves the Iceberg REST protocol under /iceberg; its native API is /api/v1|v2.
    for native in ("/api/v1", "/api/v2"):
        if uri.rstrip("/").endswith(native):
            return uri.rstrip("/")[: -len(native)] + "/iceberg"
    return str(uri)


def _warehouse(target: dict[str, Any]) -> str | None:
    if target.get("warehouse"):
        return str(target["warehouse"])
    connection = target.get("connection") or {}
    s3 = connection.get("s3") or {}
    if s3.get("bucket"):
        return f"s3://{s3['bucket']}/{str(s3.get('prefix') or '').strip('/')}".rstrip("/")
    azure = connection.get("azure") or {}
    if azure.get("container") and azure.get("account_name"):
        prefix = str(azure.get("prefix") or "").strip("/")
        return f"abfs://{azure['container']}@{azure['account_name']}.dfs.core.windows.net/{prefix}".rstrip(
            "/"
        )
    return None


def catalog_config(job: Job) -> dict[str, Any]:
    """``catalog`` properties, or ``warehouse_dir`` for the embedded default."""
    target = job.target
    if target.get("catalog"):
        return {"catalog": dict(target["catalog"])}
    connection = target.get("connection") or {}
    warehouse = _warehouse(target)
    uri = _rest_uri(connection)
    props: dict[str, Any] = {}
    if uri:
        props = {"type": "rest", "uri": uri}
        rest = connection.get("rest") or connection.get("nessie") or {}
        for key in ("credential", "token", "scope", "oauth2-server-uri"):
            if rest.get(key):
                props[key] = rest[key]
        if "credential" in props:  # the REST spec's token endpoint, unless told otherwise
            props.setdefault("oauth2-server-uri", f"{uri.rstrip('/')}/v1/oauth/tokens")
    elif warehouse and "://" in warehouse and not warehouse.startswith("file:"):
        db = job.home.warehouse / "catalog.db"  # the plugin creates its folder before a run
        props = {"type": "sql", "uri": f"sqlite:///{db}", "init_catalog_tables": "true"}
    elif warehouse:
        return {"warehouse_dir": str(job.home.resolve(warehouse.removeprefix("file://")))}
    else:
        return {"warehouse_dir": str(job.home.warehouse)}
    if warehouse:
        props["warehouse"] = warehouse
    for key, prop in _S3_PROPS.items():
        if (connection.get("s3") or {}).get(key):
            props[prop] = connection["s3"][key]
    azure = dict(connection.get("azure") or {})
    if azure.get("endpoint") and azure.get("account_key") and not azure.get("connection_string"):
        # A custom blob endpoint (Azurite, sovereign clouds) is reachable through a connection string.
        azure["connection_string"] = (
            f"DefaultEndpointsProtocol={str(azure['endpoint']).split('://')[0]};"
            f"AccountName={azure.get('account_name', '')};AccountKey={azure['account_key']};"
            f"BlobEndpoint={azure['endpoint']};"
        )
    for key, prop in _AZURE_PROPS.items():
        if azure.get(key):
            props[prop] = azure[key]
    if azure:
        props.setdefault("py-io-impl", _FSSPEC_IO)
    return {"catalog": props}


def plan_iceberg_config(job: Job) -> dict[str, Any]:
    """The full target-iceberg config of a job."""
    target = job.target
    asset = job.asset
    policies = column_policies(asset, load_policy(job.home), job.secrets, job.tenant_id)
    job.redactor.add(policies.salt)
    config: dict[str, Any] = {
        "namespace": target.get("namespace") or job.tenant_id,
        "table_names": {asset.object: target.get("table") or asset.name},
        "table_properties": _governance_properties(job),
        "schema_mode": asset.target.get("mode") or "relaxed",
        "nested": asset.target.get("nested") or "json",
        "partitioning": list(asset.target.get("partitioning") or []),
        "column_policies": policies.actions,
        "hash_salt": policies.salt,
        # under `dativo run` the tap applies them (dativo_runner/policy.py: tap_policy_config)
        "column_policies_applied": job.source_plugin.applies_column_policies,
        "column_docs": policies.docs,
        "dead_letter_dir": str(dead_letter_dir(job)),
        # The pipe closes the target's input only after the tap exited 0; should the runner
        # die, input that ends early must not commit what no STATE covers (docs/SINGER_INTEROP.md).
        "commit_records_after_last_state": False,
        **catalog_config(job),
    }
    for key in ("write_mode", "branch"):
        if target.get(key):
            config[key] = target[key]
    if job.partition is not None:  # its own bookmark: dativo.singer-state.<key>
        config["partition"] = job.partition.key
    batch = target.get("batch") or {}
    for key, setting in (
        ("rows", "batch_size_rows"),
        ("bytes", "batch_size_bytes"),
        ("seconds", "batch_seconds"),
    ):
        if batch.get(key):
            config[setting] = batch[key]
    return config
