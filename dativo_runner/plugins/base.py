"""The interface through which the runner knows a connector: one source or target plugin each.

A plugin turns a validated job into the Singer program's ``--config`` and says what it can check
before anything runs; a target plugin also knows where data lands and what bookmark it committed
there. Plugins import their tap or target package lazily, inside methods, so loading the runner
(or validating a job) never imports a connector it does not use.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dativo_runner.errors import ConfigError, Problem

if TYPE_CHECKING:
    from dativo_runner.discovery import DiscoveredStream
    from dativo_runner.drafts import DraftOptions
    from dativo_runner.job_config import Job


@dataclass(frozen=True)
class Landed:
    """Where a stream's data is, as far as the target can tell after the run."""

    location: str
    commit_id: int | str | None = None
    metadata_location: str | None = None
    table_rows: int | None = None  # rows in the table at that commit, when the target records it


MAINTAIN_STEPS = ("retention", "compaction", "expire")


@dataclass(frozen=True)
class MaintainOptions:
    """What `dativo maintain` was asked to do (targets interpret what applies to them)."""

    steps: tuple[str, ...]
    dry_run: bool
    keep_snapshots: int
    older_than_hours: float
    target_file_mb: float


@dataclass(frozen=True)
class SourceOption:
    """A command-line option a source takes in `dativo discover --connector` and `dativo generate
    config` (``--folder-id`` reaches ``draft_source`` as ``options.get("folder_id")``)."""

    flag: str
    help: str
    metavar: str | None = None
    in_block: bool = False  # the base ``draft_source`` puts the value in the block under its name

    @property
    def name(self) -> str:
        """The key of its value in :class:`DraftOptions`."""
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class TargetCapabilities:
    """What a target can do, declared by its plugin (as dlt destinations declare theirs).

    ``write_modes``: the ``write_mode`` values its config takes, the first the default;
    ``replace_modes``: those that replace all the data each run (the source is then read from
    the start); ``merge``: rows with a key already landed replace it; ``bookmarks_with_data``:
    it commits the Singer bookmark atomically with the rows (``committed_bookmark``)."""

    write_modes: tuple[str, ...] = ("append",)
    replace_modes: tuple[str, ...] = ()
    merge: bool = False
    bookmarks_with_data: bool = False


class ConnectorPlugin(ABC):
    """What sources and targets share: a job-schema fragment and checks beyond it."""

    #: JSON Schema of the job's ``source`` or ``target`` block for this connector: a name under
    #: ``dativo_runner/schemas/`` (``<name>.schema.json``), or ``package:file.json`` shipped in
    #: the connector's own package. Unknown keys in the block are errors.
    job_schema: str

    def check(self, job: Job) -> list[Problem]:
        """Problems the schema cannot see (files that match nothing, columns that do not exist).
        Must not write anything: `dativo validate` calls it."""
        return []


class SourcePlugin(ConnectorPlugin):
    """A source connector: its tap's config and the extra properties its streams carry."""

    #: Incremental settings (``source.incremental`` keys beyond ``strategy``) the tap honours;
    #: any other key given is refused at validation.
    incremental_settings: tuple[str, ...] = ()

    #: Incremental strategies (of the registry's list) that read rows past a cursor column's
    #: last value: ``source.incremental.cursor_field`` is required with them.
    cursor_strategies: tuple[str, ...] = ()

    #: True when the tap applies ``column_policies`` / ``hash_salt`` from its config to every
    #: value before it leaves the tap (taps built on ``dativo_singer.tap_policy.PolicyTap``).
    #: A classified asset is refused for a source that does not (docs/ARCHITECTURE.md).
    applies_column_policies: bool = False

    @abstractmethod
    def plan_config(self, job: Job) -> dict[str, Any]:
        """The tap's ``--config`` for this job."""

    def metadata_properties(self) -> dict[str, Any]:
        """Properties the tap adds to every stream beyond the asset schema (``_sdc_`` fields)."""
        return {}

    #: How the source reads one slice of a partitioned job (``job.partition``): ``path`` (a glob
    #: of files), ``where`` (a condition on the table), ``time_window`` (a day or month of a
    #: column or of the API's time filter). A job partitioned otherwise is refused by validate.
    partition_kinds: tuple[str, ...] = ()

    #: The command-line options `discover --connector` / `generate config` offer for this source.
    cli_options: tuple[SourceOption, ...] = ()

    #: Config keys of ``plan_config`` that describe the asset rather than the source: dropped for
    #: discovery, so the tap reports what the source itself offers.
    asset_config_keys: tuple[str, ...] = ("schemas", "key_properties", "batch_config", "tables")

    def discovery_config(self, job: Job) -> dict[str, Any]:
        """The tap's ``--config`` for ``--discover``: what ``dativo run`` plans, without the asset."""
        config = self.plan_config(job)
        for key in self.asset_config_keys:
            config.pop(key, None)
        return config

    def nothing_new(self, job: Job, config: dict[str, Any], state: dict[str, Any] | None) -> bool:
        """True only when the source can tell, without its tap, that a run resuming from
        ``state`` with ``config`` would read nothing: the runner then starts neither the tap nor
        the target (docs/ARCHITECTURE.md, "Nothing to do"). False whenever unsure. Default: False
        (a source that cannot tell, such as an API without a cheap change check)."""
        return False

    def discover(self, job: Job) -> list[DiscoveredStream]:
        """The streams and fields the source offers (`dativo discover`): the tap run with
        ``--discover`` on :meth:`discovery_config`, its catalog normalized, only the streams of
        ``source.objects`` when it names any. The asset's schema is not used."""
        from dativo_runner.discovery import discover_with_tap, streams_named

        return streams_named(job, discover_with_tap(job, self.discovery_config(job)))

    def draft_object(self, stream: DiscoveredStream) -> str:
        """How a job's ``source.objects`` names a discovered stream (`dativo generate config`):
        its last dotted part by default."""
        return stream.stream.rpartition(".")[2]

    def draft_incremental(self, stream: DiscoveredStream) -> dict[str, Any]:
        """``source.incremental`` for a discovered stream (`dativo generate config`): the tap's
        own replication key when the source takes a ``cursor_field``, else nothing."""
        if "cursor_field" in self.incremental_settings and stream.replication_key:
            return {"cursor_field": stream.replication_key}
        return {}

    def draft_source(self, options: DraftOptions) -> dict[str, Any]:
        """The job's ``source`` block for command-line options (`dativo discover --connector`,
        `dativo generate config`): ``objects``, and each ``in_block`` option given under its
        name (``--api-url`` as ``api_url``). Sources whose options shape the block extend it."""
        block: dict[str, Any] = {"objects": [options.object]} if options.object else {}
        for option in self.cli_options:
            if option.in_block and options.get(option.name) is not None:
                block[option.name] = options.get(option.name)
        return block


class TargetPlugin(ConnectorPlugin):
    """A target connector: its config, and what it committed where."""

    capabilities: TargetCapabilities = TargetCapabilities()

    def replaces_all(self, config: dict[str, Any]) -> bool:
        """True when the planned config's ``write_mode`` is one of ``capabilities.replace_modes``:
        each run replaces all the stream's data, so it reads the source from the start."""
        return config.get("write_mode") in self.capabilities.replace_modes

    def draft_target(self, connector: str, obj: str) -> dict[str, Any]:
        """The job's ``target`` block `dativo generate config` writes for object ``obj`` with
        this plugin registered as ``connector`` (``${VAR}`` placeholders for what only the user
        knows). Default: empty, the target's defaults."""
        return {}

    @abstractmethod
    def plan_config(self, job: Job) -> dict[str, Any]:
        """The target's ``--config`` for this job (may prepare local folders it needs)."""

    @abstractmethod
    def location(self, job: Job, config: dict[str, Any], stream: str) -> str:
        """Where ``stream`` lands, as shown to users (a table identifier, an object prefix)."""

    def committed_bookmark(self, job: Job, config: dict[str, Any], stream: str) -> dict[str, Any] | None:
        """The Singer state committed atomically with the stream's data, if the target keeps one.

        When it exists it is the truth: the target emits a STATE only after committing it there,
        so a state file that differs is stale (another host, a crash before the file was saved)."""
        return None

    def landed(self, job: Job, config: dict[str, Any], stream: str) -> Landed | None:
        """The current commit of a stream this run did not commit to (None if nothing landed)."""
        return None

    def bookmark_check(
        self, config: dict[str, Any], stream: str, committed: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Config entries that make the target commit only while its committed bookmark is still
        ``committed``, the one this run resumed from (compare-and-swap), for targets that keep
        bookmarks with the data. Default: none."""
        return {}

    def read_config(self, job: Job) -> dict[str, Any]:
        """The target config to read what landed (`dativo state`, `dativo inspect`); unlike
        ``plan_config`` it must create nothing. Default: ``plan_config``."""
        return self.plan_config(job)

    def reread_duplicates(self, job: Job, config: dict[str, Any]) -> str | None:
        """Why reading the source again from the start would land rows a second time (one
        line, without a trailing period), or None when rows read again replace their earlier
        copies. `dativo state reset` refuses without ``--force`` when this is not None."""
        return f"the {job.target_entry.name} target does not say how it treats rows read again"

    def inspect(self, job: Job, limit: int) -> dict[str, Any]:
        """What the target holds for the job (`dativo inspect`): location, schema, partitioning,
        commits with their bookmarks, row count, the first ``limit`` rows; ``exists`` False
        when nothing landed yet. Values must be JSON-serializable."""
        raise ConfigError([Problem(job.file, "target_connector", "inspect is not supported by this target")])

    def show(self, job: Job, limit: int) -> str:
        """A few rows of the job's data, as text (`dativo show`)."""
        raise ConfigError([Problem(job.file, "target_connector", "show is not supported by this target")])

    def maintain(self, job: Job, options: MaintainOptions) -> tuple[str, str]:
        """Maintenance of the job's data (`dativo maintain`): the report as text and as JSON."""
        raise ConfigError([Problem(job.file, "target_connector", "maintain is not supported by this target")])
