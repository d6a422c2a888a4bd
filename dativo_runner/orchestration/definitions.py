"""The Dagster code location built from a runner YAML (the dagster-sling / dagster-dlt pattern).

One asset per scheduled job (key ``<tenant>/<asset>``, owner, tags and metadata from the asset
spec, a ``no_rejected_records`` check, its op in the tenant's concurrency pool), one asset job per
schedule tagged ``dativo/tenant`` and ``dativo/asset``, one schedule per entry's ``cron``. Each
materialization runs ``dativo run --config F`` through Dagster Pipes (`DativoPipesClient`).
Override `DativoTranslator` to change keys, groups, tags or metadata.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import dagster as dg

from dativo_runner.assets import OWNER_PLACEHOLDER, placeholder_warnings
from dativo_runner.errors import EXIT_PARTIAL
from dativo_runner.orchestration.partitioned import partitioned_schedule, partitions_definition
from dativo_runner.orchestration.pipes_client import DativoPipesClient
from dativo_runner.orchestration.runner_yaml import RunnerConfig, ScheduledJob
from dativo_runner.pipes_report import NO_REJECTED_RECORDS

TENANT_TAG = "dativo/tenant"
JOB_TAG = "dativo/job"
ASSET_TAG = "dativo/asset"  # one run per table at a time, whatever concurrency_per_tenant allows
TABLE_TAG = "dativo/table"  # a partitioned table: max_parallel_partitions runs at a time
RESOURCE_KEY = "dativo"
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_]")
_TAG_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def dagster_name(*parts: str) -> str:
    """A name Dagster accepts for ops, jobs, groups and pools (letters, digits, '_')."""
    return "__".join(_NAME_CHARS.sub("_", part) for part in parts)


def tenant_pool(tenant: str) -> str:
    """The concurrency pool of every asset op of one tenant. The generated instance limits each
    pool to ``concurrency_per_tenant`` runs (pool granularity ``run``): the run queue keeps a run
    queued while its tenant's pool is full, however the run was started (schedule, job launch,
    asset graph, backfill, GraphQL), since every run of the tenant's assets carries the pool in
    its execution plan, tags or not."""
    return dagster_name("dativo", tenant)


class DativoTranslator:
    """How a scheduled job becomes Dagster definitions; override a method to change one part."""

    def get_asset_key(self, scheduled: ScheduledJob) -> dg.AssetKey:
        """``<tenant>/<asset name>``."""
        return dg.AssetKey([scheduled.tenant_id, scheduled.asset_name])

    def get_owners(self, scheduled: ScheduledJob) -> list[str]:
        """The asset's ``governance.owner``: an e-mail as is, anything else as ``team:<name>``;
        none for the placeholder of `dativo generate config` (its ``dativo/warning`` says so)."""
        owner = (scheduled.job.asset.governance.owner or "").strip() if scheduled.job else ""
        if not owner or owner.lower() == OWNER_PLACEHOLDER.lower():  # a placeholder owns nothing
            return []
        return [owner if _EMAIL.match(owner) else f"team:{_TAG_CHARS.sub('_', owner)}"]

    def get_tags(self, scheduled: ScheduledJob) -> dict[str, str]:
        """``governance.tags`` as Dagster label tags, plus the tenant."""
        tags_given = scheduled.job.asset.governance.tags if scheduled.job else ()
        tags = {_TAG_CHARS.sub("_", tag)[:63]: "" for tag in tags_given}
        tags[TENANT_TAG] = _TAG_CHARS.sub("_", scheduled.tenant_id)
        return tags

    def get_metadata(self, scheduled: ScheduledJob) -> dict[str, Any]:
        """The asset spec's version, files, classification, retention and column schema."""
        job = scheduled.job
        if job is None:  # loaded leniently: runs will fail with this line until the job is fixed
            return {"dativo/job": scheduled.file, "dativo/invalid": scheduled.problem or "invalid"}
        asset = job.asset
        governance = asset.governance
        columns = [
            dg.TableColumn(
                name=f.name,
                type=f.type,
                description=f.description,
                constraints=dg.TableColumnConstraints(nullable=not f.required),
                tags={"classification": f.classification} if f.classification else {},
            )
            for f in asset.fields
        ]
        metadata: dict[str, Any] = {
            "dagster/column_schema": dg.TableSchema(columns=columns),
            "dativo/job": job.file,
            "dativo/asset_file": asset.file,
            "dativo/asset_version": asset.version,
            "dativo/source": job.source_entry.name,
            "dativo/target": job.target_entry.name,
            "dativo/schedule": f"{scheduled.cron} ({scheduled.timezone})",
        }
        if governance.classification:
            metadata["dativo/classification"] = ", ".join(governance.classification)
        if governance.retention_days:
            metadata["dativo/retention_days"] = governance.retention_days
        if asset.primary_key:
            metadata["dativo/primary_key"] = ", ".join(asset.primary_key)
        partitions = job.partitions
        if partitions is not None:  # each partition: dativo run --partition KEY
            keys = partitions.keys
            ends = f"{keys[0]} .. {keys[-1]}" if len(keys) > 1 else keys[0]
            metadata["dativo/partitions"] = f"{partitions.kind}: {len(keys)} ({ends})"
        warnings = placeholder_warnings(asset)
        if warnings:
            metadata["dativo/warning"] = "; ".join(warnings)
        if scheduled.problem:  # its runs would fail: the schedule is not started
            metadata["dativo/invalid"] = scheduled.problem
        return metadata

    def get_asset_spec(self, scheduled: ScheduledJob) -> dg.AssetSpec:
        """The asset of one scheduled job."""
        job = scheduled.job
        description = (
            f"{job.asset.name} v{job.asset.version} loaded by {job.file}"
            if job
            else f"{scheduled.asset_name} loaded by {scheduled.file} (invalid: {scheduled.problem})"
        )
        return dg.AssetSpec(
            key=self.get_asset_key(scheduled),
            description=description,
            owners=self.get_owners(scheduled),
            tags=self.get_tags(scheduled),
            metadata=self.get_metadata(scheduled),
            group_name=dagster_name(scheduled.tenant_id),
            kinds={job.source_entry.name, job.target_entry.name} if job else None,
        )

    def get_job_name(self, scheduled: ScheduledJob) -> str:
        """``<schedule name>_job``."""
        return f"{scheduled.name}_job"

    def get_run_tags(self, scheduled: ScheduledJob) -> dict[str, str]:
        """Tags of every run: the tenant and the table (both limited by the run queue) and the
        job. A partitioned job's table is ``dativo/table`` (``max_parallel_partitions`` runs of
        its partitions at a time), an unpartitioned one's ``dativo/asset`` (one run at a time)."""
        table = f"{scheduled.tenant_id}.{scheduled.asset_name}"
        partitioned = partitions_definition(scheduled) is not None
        return {
            TENANT_TAG: scheduled.tenant_id,
            TABLE_TAG if partitioned else ASSET_TAG: table,
            JOB_TAG: scheduled.file,
        }


def dativo_asset(scheduled: ScheduledJob, translator: DativoTranslator) -> dg.AssetsDefinition:
    """The asset that runs one job through Dagster Pipes."""
    spec = translator.get_asset_spec(scheduled)
    check = dg.AssetCheckSpec(
        NO_REJECTED_RECORDS,
        asset=spec.key,
        description="no record was rejected to the dead letter (fails with WARN on a partial run)",
    )

    partitions = partitions_definition(scheduled)

    @dg.multi_asset(
        name=dagster_name(scheduled.tenant_id, scheduled.asset_name),
        specs=[spec],
        check_specs=[check],
        required_resource_keys={RESOURCE_KEY},
        op_tags=translator.get_run_tags(scheduled),
        pool=tenant_pool(scheduled.tenant_id),
        partitions_def=partitions,
    )
    def _materialize(context):  # no annotation: Dagster cannot resolve a postponed one here
        client: DativoPipesClient = getattr(context.resources, RESOURCE_KEY)
        key = context.partition_key if partitions is not None else None
        outcome = client.run(context=context, job_file=scheduled.config, partition=key)
        if not outcome.landed:
            raise dg.Failure(
                description=outcome.error,
                metadata={
                    "exit_code": outcome.exit_code,
                    "status": outcome.status,
                    "job": scheduled.file,
                },
            )
        if outcome.exit_code == EXIT_PARTIAL and outcome.error:
            context.log.warning(f"partial success (exit 1): {outcome.error}")
        yield from outcome.results

    return _materialize


def build_definitions(config: RunnerConfig, translator: DativoTranslator | None = None) -> dg.Definitions:
    """Assets, asset jobs, schedules and the Pipes client resource of a validated runner YAML."""
    translator = translator or DativoTranslator()
    assets: list[dg.AssetsDefinition] = []
    jobs: list[dg.UnresolvedAssetJobDefinition] = []
    schedules: list[dg.ScheduleDefinition] = []
    for scheduled in config.schedules:
        asset = dativo_asset(scheduled, translator)
        job = dg.define_asset_job(
            translator.get_job_name(scheduled),
            selection=dg.AssetSelection.assets(*asset.keys),
            tags=translator.get_run_tags(scheduled),
            executor_def=dg.in_process_executor,  # one step: no second process per run
            description=f"dativo run --config {scheduled.file}",
        )
        assets.append(asset)
        jobs.append(job)
        status = (
            dg.DefaultScheduleStatus.RUNNING
            if scheduled.enabled and not scheduled.problem  # never scheduled blind
            else dg.DefaultScheduleStatus.STOPPED
        )
        partitions = partitions_definition(scheduled)
        schedules.append(
            partitioned_schedule(scheduled, job, partitions, status)
            if partitions is not None
            else dg.ScheduleDefinition(
                name=scheduled.name,
                job=job,
                cron_schedule=scheduled.cron,
                execution_timezone=scheduled.timezone,
                default_status=status,
            )
        )
    client = DativoPipesClient(config.home.root, state_dir=config.state_dir, secrets_dir=config.secrets_dir)
    return dg.Definitions(
        assets=assets,
        jobs=jobs,
        schedules=schedules,
        resources={RESOURCE_KEY: client},
        executor=dg.in_process_executor,  # a run of several assets (asset graph) loads one at a time
    )


def asset_keys(defs: dg.Definitions) -> Sequence[dg.AssetKey]:
    """Every asset key of the definitions (for tests and listings)."""
    return [
        key for asset in defs.assets or [] if isinstance(asset, dg.AssetsDefinition) for key in asset.keys
    ]
