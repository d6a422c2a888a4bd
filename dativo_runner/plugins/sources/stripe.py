"""The ``stripe`` source: tap-stripe config from a job (the key from the tenant's secrets)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dativo_runner.errors import Problem
from dativo_runner.plugins.base import SourcePlugin
from dativo_runner.plugins.sources.api_common import API_OPTIONS, credential, rest_config

if TYPE_CHECKING:
    from dativo_runner.job_config import Job


class StripeSource(SourcePlugin):
    """Stripe objects, incremental on ``created`` with updates through the Events API."""

    applies_column_policies = True  # its tap is a dativo_singer PolicyTap

    job_schema = "sources/stripe"
    cli_options = API_OPTIONS
    incremental_settings = ("cursor_field", "lookback_days", "start_date")
    cursor_strategies = ("created_cursor",)
    partition_kinds = ("time_window",)

    def check(self, job: Job) -> list[Problem]:
        """The cursor, and a time window's column, is ``created`` (the only field Stripe lists
        filter on); a partitioned job reads incrementally."""
        cursor = job.incremental.cursor_field
        problems = []
        if cursor and cursor != "created":
            problems.append(
                Problem(
                    job.file,
                    "source.incremental.cursor_field",
                    f"{cursor!r}: Stripe lists filter on 'created' only",
                )
            )
        window = (job.data.get("partitions") or {}).get("time_window") or {}
        if window.get("column") not in (None, "created"):
            problems.append(
                Problem(
                    job.file,
                    "partitions.time_window.column",
                    f"{window['column']!r}: Stripe lists filter on 'created' only",
                )
            )
        if window and not cursor:
            problems.append(
                Problem(
                    job.file,
                    "partitions",
                    "a partitioned Stripe job reads incrementally (source.incremental.cursor_field: created)",
                )
            )
        return problems

    def plan_config(self, job: Job) -> dict[str, Any]:
        """The API key, ``api_url``, ``stripe_version``, rate and retry settings."""
        config = rest_config(job)
        config["api_key"] = credential(job, "API key")
        if job.source.get("stripe_version"):
            config["stripe_version"] = job.source["stripe_version"]
        partition = job.partition
        if partition is not None and partition.start and partition.end:  # created[gte] / created[lt]
            config["start_date"] = f"{partition.start}T00:00:00Z"
            config["end_date"] = f"{partition.end}T00:00:00Z"
        return config
