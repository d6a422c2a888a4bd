"""The Singer catalog a job hands its tap: the asset's stream, every field selected."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dativo_runner.job_config import Job


def plan_catalog(job: Job) -> dict[str, Any]:
    """One stream: the asset schema plus the tap's metadata properties, its key, and the
    replication method and key of the job's incremental settings."""
    schema = job.asset.json_schema()
    schema["properties"] = {**schema["properties"], **job.source_plugin.metadata_properties()}
    keys = list(job.asset.primary_key)
    stream_metadata = {
        "selected": True,
        "table-key-properties": keys,
        "inclusion": "available",
        **job.incremental.catalog_metadata(),
    }
    metadata: list[dict[str, Any]] = [{"breadcrumb": [], "metadata": stream_metadata}]
    for name in schema["properties"]:
        metadata.append(
            {
                "breadcrumb": ["properties", name],
                "metadata": {
                    "selected": True,
                    "inclusion": "automatic" if name in keys else "available",
                },
            }
        )
    stream = job.asset.object
    entry: dict[str, Any] = {
        "tap_stream_id": stream,
        "stream": stream,
        "schema": schema,
        "key_properties": keys,
        "metadata": metadata,
    }
    if job.incremental.cursor_field:
        entry["replication_key"] = job.incremental.cursor_field
        entry["replication_method"] = "INCREMENTAL"
    elif job.incremental.log_based:  # the tap adds _sdc_lsn and _sdc_deleted_at (docs/CDC.md)
        entry["replication_method"] = "LOG_BASED"
    return {"streams": [entry]}
