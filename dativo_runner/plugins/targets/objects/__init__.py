"""The ``s3``, ``minio`` and ``azure_blob`` targets: target-objects config, committed bookmarks
(the newest manifest), show and maintain (orphan files).

Everything object-store specific the runner needs is here; target_objects, boto3 and
azure-storage-blob are imported only inside methods, when a job that uses these targets asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dativo_runner.errors import DativoError, Problem
from dativo_runner.plugins.base import Landed, MaintainOptions, TargetCapabilities, TargetPlugin
from dativo_runner.plugins.targets.objects.planning import dead_letter_dir, draft_block, plan_objects_config
from dativo_runner.setting_hints import s3_credentials_problem
from dativo_runner.tenancy import prefix_problem, recorded_owner_problem

if TYPE_CHECKING:
    from target_objects.settings import ObjectSettings
    from target_objects.stores import ObjectStore

    from dativo_runner.job_config import Job

_CONNECTION = {"s3": "s3", "minio": "s3", "azure_blob": "azure"}


def _open(config: dict[str, Any]) -> tuple[ObjectSettings, ObjectStore]:
    from target_objects.settings import object_settings
    from target_objects.stores import open_store

    return object_settings(config), open_store(config)


class ObjectsTarget(TargetPlugin):
    """Raw files (JSON lines, CSV, Parquet) with per-commit manifests on S3, MinIO or Azure Blob."""

    job_schema = "targets/objects"
    capabilities = TargetCapabilities(write_modes=("append",), bookmarks_with_data=True)

    def draft_target(self, connector: str, obj: str) -> dict[str, Any]:
        """The connection of ``connector`` with the local services' defaults (``${VAR}``)."""
        return draft_block(connector, obj)

    def check(self, job: Job) -> list[Problem]:
        """The connection the connector needs, and every setting target-objects would refuse
        at start-up (offline: nothing is contacted or written)."""
        from target_objects.settings import object_settings

        from dativo_singer.errors import FatalError

        connection = job.target.get("connection") or {}
        wanted = _CONNECTION.get(job.target_entry.name, "s3")
        other = "azure" if wanted == "s3" else "s3"
        problems = []
        if not connection.get(wanted):
            problems.append(
                Problem(
                    job.file, f"target.connection.{wanted}", f"required by the {job.target_entry.name} target"
                )
            )
        if connection.get(other):
            problems.append(
                Problem(
                    job.file,
                    f"target.connection.{other}",
                    f"not used by the {job.target_entry.name} target (it writes to {wanted})",
                )
            )
        if job.target_entry.name == "minio" and not (connection.get("s3") or {}).get("endpoint"):
            problems.append(Problem(job.file, "target.connection.s3.endpoint", "required for MinIO"))
        nested = prefix_problem(
            str((connection.get(wanted) or {}).get("prefix") or ""), job.tenant_id, job.home
        )
        if nested:
            problems.append(Problem(job.file, f"target.connection.{wanted}.prefix", nested))
        if problems:
            return problems
        try:
            object_settings(plan_objects_config(job))
        except FatalError as exc:
            problems.append(Problem(job.file, "target", str(exc)))
        heading = (job.target.get("markdown_kv") or {}).get("heading_field")
        columns = [spec.name for spec in job.asset.fields]
        if heading and heading not in columns:
            problems.append(
                Problem(
                    job.file, "target.markdown_kv.heading_field", f"{heading!r} is not a column of the asset"
                )
            )
        folder = dead_letter_dir(job)
        for path in (folder, *folder.parents):
            if path.exists():
                if not path.is_dir():
                    problems.append(
                        Problem(job.file, "target", f"dead-letter folder cannot be made: {path} is a file")
                    )
                break
        return problems

    def plan_config(self, job: Job) -> dict[str, Any]:
        """The target-objects config; credentials an S3-compatible endpoint needs must be given
        (checked offline, so `dativo validate` refuses what the run would)."""
        connection = job.target.get("connection") or {}
        if connection.get("s3"):
            missing = s3_credentials_problem(job, connection["s3"], "target.connection.s3")
            if missing:
                raise DativoError([Problem(job.file, "target.connection.s3", missing)])
        return plan_objects_config(job)

    def location(self, job: Job, config: dict[str, Any], stream: str) -> str:
        """The stream's root URL (``s3://bucket/prefix/tenant/stream/``); contacts nothing."""
        from target_objects.settings import object_settings
        from target_objects.stores import object_url

        return object_url(config, object_settings(config).stream_root(stream) + "/")

    def _newest(self, config: dict[str, Any], stream: str) -> tuple[str, dict[str, Any], ObjectStore] | None:
        from target_objects.manifest import newest_manifest

        settings, store = _open(config)
        found = newest_manifest(store, settings.manifest_prefix(stream))
        return (found[0], found[1], store) if found else None

    def committed_bookmark(self, job: Job, config: dict[str, Any], stream: str) -> dict[str, Any] | None:
        """The state of the newest manifest (of the run's partition, for a partitioned job),
        once its recorded tenant is the job's."""
        found = self._newest(config, stream)
        owner = found[1].get("tenant") if found else None
        storage = "azure" if config.get("storage") == "azure" else "s3"
        field = f"target.connection.{storage}.prefix"
        problem = recorded_owner_problem(owner, job.tenant_id, self.location(job, config, stream), field)
        if problem:
            raise DativoError([Problem(job.file, field, problem)])
        partition = config.get("partition")
        own = found[1] if found and found[1].get("partition") == partition else None
        if found and own is None:
            from target_objects.manifest import bookmark_manifest

            settings, store = _open(config)
            own = bookmark_manifest(store, settings.manifest_prefix(stream), partition, found[:2])
        state = own.get("state") if own else None
        return state if isinstance(state, dict) else None

    def landed(self, job: Job, config: dict[str, Any], stream: str) -> Landed | None:
        """The newest manifest: its name is the commit id."""
        found = self._newest(config, stream)
        if found is None:
            return None
        key, _, store = found
        settings, _ = _open(config)
        return Landed(
            location=store.url(settings.stream_root(stream) + "/"),
            commit_id=key.rsplit("/", 1)[-1].removesuffix(".json"),
            metadata_location=store.url(key),
        )

    def reread_duplicates(self, job: Job, config: dict[str, Any]) -> str | None:
        """Files are only ever added (format raw rewrites each source file's object in place)."""
        if str(config.get("format") or "jsonl") == "raw":
            return None
        return (
            f"{self.location(job, config, job.asset.object)} only adds files: reading the source "
            "again from the start would land the rows already there a second time"
        )

    def inspect(self, job: Job, limit: int) -> dict[str, Any]:
        """Location, columns, every manifest with its files and bookmark, rows."""
        from dativo_runner.plugins.targets.objects.inspect import inspect_objects
        from dativo_singer.errors import DativoSingerError

        config = plan_objects_config(job)
        try:
            settings, store = _open(config)
            report = inspect_objects(store, settings, job.asset.object, limit)
        except DativoSingerError as exc:
            raise DativoError([Problem(job.file, "target", str(exc))]) from None
        return {"target": job.target_entry.name, "write_mode": "append", **report}

    def show(self, job: Job, limit: int) -> str:
        """Rows and files the manifests name, and the first ``limit`` rows of the newest files."""
        from dativo_runner.plugins.targets.objects.inspect import first_rows, read_manifests

        config = plan_objects_config(job)
        settings, store = _open(config)
        stream = job.asset.object
        where = store.url(settings.stream_root(stream) + "/")
        from target_objects.manifest import current_manifests

        every = [m for _, m in read_manifests(store, settings, stream)]
        if not every:
            return f"{where}: no manifest yet (run the job first)"
        manifests = current_manifests(every)  # from the last full replace on
        files = [f for m in manifests for f in m["files"]]
        total = sum(int(f["rows"]) for f in files)
        lines = [f"{where}: {total:,} rows in {len(files):,} files, {len(manifests):,} commits"]
        for url, rows in first_rows(store, manifests, limit):
            lines.append(f"first {len(rows)} of {url}:")
            lines.extend("  " + ", ".join(f"{k}={v}" for k, v in row.items()) for row in rows)
        return "\n".join(lines)

    def maintain(self, job: Job, options: MaintainOptions) -> tuple[str, str]:
        """Report, and remove unless a dry run, data files no manifest names."""
        from dativo_runner.plugins.targets.objects.maintain import remove_orphans
        from dativo_singer.errors import DativoSingerError

        config = plan_objects_config(job)
        try:
            settings, store = _open(config)
            report = remove_orphans(job.file, store, settings, job.asset.object, options)
        except DativoSingerError as exc:
            raise DativoError([Problem(job.file, "target", str(exc))]) from None
        return report.as_text(), report.as_json()
