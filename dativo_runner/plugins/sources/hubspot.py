"""The ``hubspot`` source: tap-hubspot config from a job (the token from the tenant's secrets)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dativo_runner.errors import Problem
from dativo_runner.plugins.base import SourcePlugin
from dativo_runner.plugins.sources.api_common import API_OPTIONS, credential, rest_config

if TYPE_CHECKING:
    from dativo_runner.job_config import Job


class HubSpotSource(SourcePlugin):
    """HubSpot CRM objects, incremental on their last-modified date through the search API."""

    applies_column_policies = True  # its tap is a dativo_singer PolicyTap

    job_schema = "sources/hubspot"
    cli_options = API_OPTIONS
    incremental_settings = ("cursor_field", "start_date")
    cursor_strategies = ("updated_at_cursor",)
    partition_kinds = ("time_window",)  # on createdate: the search filters of tap-hubspot

    def check(self, job: Job) -> list[Problem]:
        """The cursor of contacts, companies and deals is their last-modified property; a time
        window slices them by createdate."""
        from tap_hubspot.objects import CREATED_PROPERTY, MODIFIED_PROPERTY

        expected = MODIFIED_PROPERTY.get(job.asset.object)
        cursor = job.incremental.cursor_field
        problems = []
        if expected and cursor and cursor != expected:
            problems.append(
                Problem(
                    job.file,
                    "source.incremental.cursor_field",
                    f"{cursor!r}: HubSpot {job.asset.object} are read incrementally on {expected!r}",
                )
            )
        window = (job.data.get("partitions") or {}).get("time_window") or {}
        if window and (window.get("column") != CREATED_PROPERTY or not expected):
            problems.append(
                Problem(
                    job.file,
                    "partitions.time_window.column",
                    f"{window.get('column')!r}: HubSpot contacts, companies and deals are sliced by "
                    f"{CREATED_PROPERTY!r} (a search filter)",
                )
            )
        return problems

    def plan_config(self, job: Job) -> dict[str, Any]:
        """The access token, ``api_url``, rate settings and the properties to read: ``source.properties``,
        else the asset's columns (HubSpot is asked for nothing the table does not keep)."""
        config = rest_config(job)
        config["access_token"] = credential(job, "access token")
        from tap_hubspot.properties import OBJECT_FIELDS

        properties = job.source.get("properties") or [
            f.name for f in job.asset.fields if f.name not in OBJECT_FIELDS
        ]
        config["properties"] = {job.asset.object: list(properties)}
        partition = job.partition
        if partition is not None and partition.start and partition.end:  # createdate GTE / LT
            config["created_from"] = f"{partition.start}T00:00:00Z"
            config["created_before"] = f"{partition.end}T00:00:00Z"
        return config
