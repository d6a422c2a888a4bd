"""Turning a validated job into tap and target configs, one module per connector."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tap_csv.streams import METADATA_PROPERTIES as CSV_METADATA_PROPERTIES

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.job_config import Job
from dativo_runner.planners.csv_source import plan_csv_source
from dativo_runner.planners.iceberg_target import plan_iceberg_target

Planner = Callable[[Job], dict[str, Any]]

SOURCE_PLANNERS: dict[str, Planner] = {"csv": plan_csv_source}
# Properties a tap adds to every stream beyond the asset schema (Singer `_sdc_` metadata).
SOURCE_METADATA_PROPERTIES: dict[str, dict[str, Any]] = {"csv": CSV_METADATA_PROPERTIES}
TARGET_PLANNERS: dict[str, Planner] = {"iceberg": plan_iceberg_target}


def _plan(role: str, name: str, planners: dict[str, Planner], job: Job) -> dict[str, Any]:
    planner = planners.get(name)
    if planner is None:
        raise ConfigError(
            [Problem(job.file, f"{role}_connector", f"{name!r} has no runner planner in this build")]
        )
    return planner(job)


def plan_tap_config(job: Job) -> dict[str, Any]:
    """The tap's --config for this job."""
    return _plan("source", job.source_entry.name, SOURCE_PLANNERS, job)


def plan_target_config(job: Job) -> dict[str, Any]:
    """The target's --config for this job."""
    return _plan("target", job.target_entry.name, TARGET_PLANNERS, job)


def plan_catalog(job: Job) -> dict[str, Any]:
    """A Singer catalog selecting the asset's stream and every field of its schema."""
    schema = job.asset.json_schema()
    extra = SOURCE_METADATA_PROPERTIES.get(job.source_entry.name, {})
    schema["properties"] = {**schema["properties"], **extra}
    metadata: list[dict[str, Any]] = [
        {
            "breadcrumb": [],
            "metadata": {
                "selected": True,
                "table-key-properties": list(job.asset.primary_key),
                "inclusion": "available",
            },
        }
    ]
    for name in schema["properties"]:
        metadata.append(
            {
                "breadcrumb": ["properties", name],
                "metadata": {
                    "selected": True,
                    "inclusion": "automatic" if name in job.asset.primary_key else "available",
                },
            }
        )
    stream = job.asset.object
    return {
        "streams": [
            {
                "tap_stream_id": stream,
                "stream": stream,
                "schema": schema,
                "key_properties": list(job.asset.primary_key),
                "metadata": metadata,
            }
        ]
    }
