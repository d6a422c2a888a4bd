"""target-objects config from a job's ``target`` block, its asset and the governance policy.

The job shape of the product's original README maps as follows: ``connection.s3.{bucket,
prefix, endpoint, region, access_key_id, secret_access_key, session_token, path_style}`` make
``storage: s3``; ``connection.azure.{container, prefix, connection_string | account_name +
account_key / sas_token, endpoint}`` make ``storage: azure``. ``format`` (else the asset's
``target.file_format``, else jsonl), ``compression``, ``key_template``, ``file.{max_rows,
max_bytes}``, ``batch.{rows,bytes,seconds}``, ``metadata`` and ``markdown_kv.heading_field``
are the target's own keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dativo_runner.policy import column_policies, load_policy

if TYPE_CHECKING:
    from dativo_runner.job_config import Job

_S3_KEYS = {
    "bucket": "bucket",
    "prefix": "prefix",
    "endpoint": "endpoint",
    "region": "region",
    "access_key_id": "access_key_id",
    "secret_access_key": "secret_access_key",
    "session_token": "session_token",
    "path_style": "path_style",
}
_AZURE_KEYS = {
    "container": "bucket",
    "prefix": "prefix",
    "endpoint": "endpoint",
    "connection_string": "azure_connection_string",
    "account_name": "azure_account_name",
    "account_key": "azure_account_key",
    "sas_token": "azure_sas_token",
}


def dead_letter_dir(job: Job) -> Path:
    """``<home>/dead_letter/<tenant>/<job>``: rejected records of the job's runs."""
    return job.home.root / "dead_letter" / job.tenant_id / job.name


def governance_metadata(job: Job) -> dict[str, str]:
    """The asset's governance as object metadata (names valid on S3 and Azure alike)."""
    governance = job.asset.governance
    metadata = {
        "dativo_asset": job.asset.name,
        "dativo_asset_version": job.asset.version,
        "dativo_tenant": job.tenant_id,
    }
    if governance.get("owner"):
        metadata["dativo_owner"] = str(governance["owner"])
    if governance.get("tags"):
        metadata["dativo_tags"] = ",".join(map(str, governance["tags"]))
    if governance.get("classification"):
        metadata["dativo_classification"] = ",".join(map(str, governance["classification"]))
    if governance.get("retention_days"):
        metadata["dativo_retention_days"] = str(governance["retention_days"])
    return {**metadata, **{str(k): str(v) for k, v in (job.target.get("metadata") or {}).items()}}


def storage_config(job: Job) -> dict[str, Any]:
    """``storage`` and its connection settings from ``target.connection``."""
    connection = job.target.get("connection") or {}
    if connection.get("azure"):
        azure = connection["azure"]
        config: dict[str, Any] = {"storage": "azure"}
        config.update({setting: azure[key] for key, setting in _AZURE_KEYS.items() if azure.get(key)})
        return config
    s3 = connection.get("s3") or {}
    config = {"storage": "s3"}
    config.update({setting: s3[key] for key, setting in _S3_KEYS.items() if s3.get(key) not in (None, "")})
    if "path_style" not in config:  # MinIO and other self-hosted endpoints want path-style
        config["path_style"] = job.target_entry.name == "minio" or bool(s3.get("endpoint"))
    return config


def plan_objects_config(job: Job) -> dict[str, Any]:
    """The full target-objects config of a job (no folder is made, nothing is contacted)."""
    target = job.target
    asset = job.asset
    policies = column_policies(asset, load_policy(job.home), job.secrets, job.tenant_id)
    job.redactor.add(policies.salt)
    config: dict[str, Any] = {
        **storage_config(job),
        "tenant": job.tenant_id,
        "format": target.get("format") or asset.target.get("file_format") or "jsonl",
        "compression": target.get("compression") or "none",
        "object_metadata": governance_metadata(job),
        "schema_mode": asset.target.get("mode") or "relaxed",
        "nested": asset.target.get("nested") or "json",
        "column_policies": policies.actions,
        "hash_salt": policies.salt,
        # under `dativo run` the tap applies them (dativo_runner/policy.py: tap_policy_config)
        "column_policies_applied": job.source_plugin.applies_column_policies,
        "column_docs": policies.docs,
        "dead_letter_dir": str(dead_letter_dir(job)),
        # The pipe closes the target's input only after the tap exited 0; should the runner
        # die, input that ends early must not commit what no STATE covers (docs/SINGER_INTEROP.md).
        "commit_records_after_last_state": False,
    }
    heading = (target.get("markdown_kv") or {}).get("heading_field")
    if heading:
        config["markdown_kv_heading_field"] = heading
    if target.get("key_template"):
        config["key_template"] = target["key_template"]
    if job.partition is not None:  # its own bookmark in the manifests it writes
        config["partition"] = job.partition.key
    for section, pairs in (
        ("file", (("max_rows", "file_max_rows"), ("max_bytes", "file_max_bytes"))),
        ("batch", (("rows", "batch_size_rows"), ("bytes", "batch_size_bytes"), ("seconds", "batch_seconds"))),
    ):
        values = target.get(section) or {}
        config.update({setting: values[key] for key, setting in pairs if values.get(key)})
    return config


def _s3_block(variable: str, obj: str) -> dict[str, Any]:
    return {
        "format": "parquet",
        "connection": {
            "s3": {
                "bucket": f"${{{variable}_BUCKET:-lake}}",
                "prefix": obj,
                "endpoint": f"${{{variable}_ENDPOINT:-http://127.0.0.1:58333}}",
                "region": "us-east-1",
                "access_key_id": f"${{{variable}_ACCESS_KEY_ID:-}}",
                "secret_access_key": f"${{{variable}_SECRET_ACCESS_KEY:-}}",
            }
        },
    }


def draft_block(connector: str, obj: str) -> dict[str, Any]:
    """The job's ``target`` block `dativo generate config` writes: the local services' defaults,
    overridable by ``${VAR}``."""
    if connector == "azure_blob":
        return {
            "format": "parquet",
            "connection": {
                "azure": {
                    "container": "${AZURE_CONTAINER:-lake}",
                    "prefix": obj,
                    "connection_string": "${AZURE_STORAGE_CONNECTION_STRING}",
                }
            },
        }
    return _s3_block("MINIO" if connector == "minio" else "S3", obj)
