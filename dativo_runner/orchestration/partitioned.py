"""A partitioned job in Dagster: its partitions definition and its schedule.

Static slices become a ``StaticPartitionsDefinition`` of their names; day and month windows a
``DailyPartitionsDefinition`` / ``MonthlyPartitionsDefinition`` whose keys are the job's own
(``2024-01-01``, ``2024-01``). Each partition's run is ``dativo run --config F --partition KEY``.
A schedule tick of a partitioned job asks for every static slice (the CLI without
``--partition`` runs them all too) or for the newest time window, each as a run of its own;
the run queue admits ``max_parallel_partitions`` of one table and ``concurrency_per_tenant`` of
one tenant at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg

from dativo_runner.orchestration.runner_yaml import ScheduledJob
from dativo_runner.partitions import PartitionSet

MONTH_FORMAT = "%Y-%m"


def job_partition_set(scheduled: ScheduledJob) -> PartitionSet | None:
    """The partitions a scheduled job declares (None: unpartitioned or not loaded)."""
    return scheduled.job.partitions if scheduled.job is not None else None


def _declared_end(scheduled: ScheduledJob) -> bool:
    """Whether the job's time window names its ``end`` (else it runs up to today)."""
    raw: Mapping[str, Any] = scheduled.job.data if scheduled.job is not None else {}
    window = (raw.get("partitions") or {}).get("time_window") or {}
    return window.get("end") is not None


def partitions_definition(scheduled: ScheduledJob) -> dg.PartitionsDefinition | None:
    """The Dagster partitions of a partitioned job, with the job's keys (None otherwise)."""
    found = job_partition_set(scheduled)
    if found is None:
        return None
    if found.kind == "static":
        return dg.StaticPartitionsDefinition(list(found.keys))
    assert found.start is not None and found.end is not None
    end = found.end if _declared_end(scheduled) else None
    if found.kind == "day":
        return dg.DailyPartitionsDefinition(start_date=found.start, end_date=end)
    # Without an end the job's months run through the current one: Dagster's last partition is
    # the last complete month unless offset by one.
    return dg.MonthlyPartitionsDefinition(
        start_date=found.start[:7],
        end_date=end[:7] if end else None,
        fmt=MONTH_FORMAT,
        end_offset=0 if end else 1,
    )


def partitioned_schedule(
    scheduled: ScheduledJob,
    job: dg.UnresolvedAssetJobDefinition,
    partitions: dg.PartitionsDefinition,
    default_status: dg.DefaultScheduleStatus,
) -> dg.ScheduleDefinition:
    """The schedule of a partitioned job: each tick, every static slice or the newest window."""

    def _requests(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        if isinstance(partitions, dg.StaticPartitionsDefinition):
            keys = list(partitions.get_partition_keys())
        else:
            last = partitions.get_last_partition_key()
            keys = [last] if last is not None else []
        tick = context.scheduled_execution_time
        when = tick.isoformat() if tick is not None else ""
        for key in keys:  # a run key per partition and tick: each tick runs each slice once
            yield dg.RunRequest(partition_key=key, run_key=f"{key}@{when}")

    return dg.ScheduleDefinition(
        name=scheduled.name,
        job=job,
        cron_schedule=scheduled.cron,
        execution_timezone=scheduled.timezone,
        default_status=default_status,
        execution_fn=_requests,
    )
