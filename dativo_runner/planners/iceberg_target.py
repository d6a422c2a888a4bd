"""target-iceberg config from a job's ``target`` block and its asset."""

from __future__ import annotations

from typing import Any

from dativo_runner.job_config import Job


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


def plan_iceberg_target(job: Job) -> dict[str, Any]:
    """Catalog (verbatim, or the embedded default under the project home), namespace and table."""
    target = job.target
    config: dict[str, Any] = {
        "namespace": target.get("namespace") or job.tenant_id,
        "table_names": {job.asset.object: target.get("table") or job.asset.name},
        "table_properties": _governance_properties(job),
    }
    if target.get("catalog"):
        config["catalog"] = dict(target["catalog"])
    else:
        config["warehouse_dir"] = str(job.home.warehouse)
    batch = target.get("batch") or {}
    if batch.get("rows"):
        config["batch_size_rows"] = batch["rows"]
    return config
