"""What the target plugins share: where a job's rejected records go, and the asset's governance
as text fields that each target names its own way (table properties, object metadata)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dativo_runner.job_config import Job


def dead_letter_dir(job: Job) -> Path:
    """``<home>/dead_letter/<tenant>/<job>``: rejected records of the job's runs."""
    return job.home.root / "dead_letter" / job.tenant_id / job.name


def governance_fields(job: Job) -> dict[str, str]:
    """``asset``, ``asset-version``, ``tenant``, and ``owner``, ``tags``, ``classification``,
    ``retention-days`` when the asset's governance gives them (lists joined with commas)."""
    governance = job.asset.governance
    fields = {"asset": job.asset.name, "asset-version": job.asset.version, "tenant": job.tenant_id}
    if governance.owner:
        fields["owner"] = governance.owner
    if governance.tags:
        fields["tags"] = ",".join(governance.tags)
    if governance.classification:
        fields["classification"] = ",".join(governance.classification)
    if governance.retention_days:
        fields["retention-days"] = str(governance.retention_days)
    return fields
