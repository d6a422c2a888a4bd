"""Typed views of the configuration files, made from documents their JSON Schema already accepted.

One frozen dataclass per object of ``schemas/job.schema.json`` (the job file's top-level blocks),
``schemas/asset.schema.json`` (an asset's ``governance`` and ``target``), ``schemas/policy.schema.json``,
``schemas/connector.schema.json`` (a connector recipe) and ``schemas/runner.schema.json`` (the
runner settings); each field is named like its schema property (a unit test keeps both sides
equal). Validation stays with the schemas: :func:`parse` only reads, so a document must have been
validated first. A block that connectors extend (the job's ``source``) keeps the keys the schema
does not name in ``extra``; a block a plugin declares whole (``target``) stays a mapping.
"""

from __future__ import annotations

import types
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

#: Marks the field that keeps an open block's undeclared keys.
EXTRA = {"extra": True}
Model = TypeVar("Model")


# --- the job file (schemas/job.schema.json) -------------------------------------------------


@dataclass(frozen=True)
class IncrementalSettings:
    """``source.incremental``: how the source reads only what changed since the last run."""

    lookback_days: int | None = None
    strategy: str | None = None
    cursor_field: str | None = None
    start_date: str | None = None
    publication: str | None = None
    slot: str | None = None

    def given(self) -> dict[str, Any]:
        """The settings the file gives (those left out are absent, not None)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class SourceSettings:
    """The job's ``source`` block: the keys every source shares, and the connector's own in ``extra``."""

    objects: tuple[str, ...] = ()
    incremental: IncrementalSettings = field(default_factory=IncrementalSettings)
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)


@dataclass(frozen=True)
class LoggingSettings:
    """The job's ``logging`` block: what the run prints on stderr."""

    redaction: bool = True
    level: str = "INFO"


@dataclass(frozen=True)
class JobFile:
    """A job file's top level."""

    tenant_id: str
    source_connector: str
    target_connector: str
    asset: str
    environment: str | None = None
    source_connector_path: str | None = None
    target_connector_path: str | None = None
    asset_path: str | None = None
    source: SourceSettings = field(default_factory=SourceSettings)
    target: dict[str, Any] = field(default_factory=dict)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    partitions: dict[str, Any] = field(default_factory=dict)  # dativo_runner/partitions.py


# --- an asset (schemas/asset.schema.json) ---------------------------------------------------


@dataclass(frozen=True)
class AssetGovernance:
    """``asset.governance``: ownership, tags, classification and retention of the dataset."""

    owner: str | None = None
    tags: tuple[str, ...] = ()
    classification: tuple[str, ...] = ()
    retention_days: int | None = None


@dataclass(frozen=True)
class AssetTarget:
    """``asset.target``: how the table (or objects) of the dataset is written."""

    file_format: str | None = None
    partitioning: tuple[str, ...] = ()
    mode: str = "relaxed"
    nested: str = "json"


# --- the governance policy (schemas/policy.schema.json) --------------------------------------


@dataclass(frozen=True)
class ClassificationRule:
    """``policy.classifications.<name>``: what happens to the columns of a classification."""

    action: str
    salt_env: str | None = None


@dataclass(frozen=True)
class PolicySettings:
    """The policy file's ``policy`` block."""

    classifications: dict[str, ClassificationRule] = field(default_factory=dict)
    unclassified_pii: str | None = None
    require_owner: bool | None = None


# --- a connector recipe (schemas/connector.schema.json) --------------------------------------


@dataclass(frozen=True)
class RecipeAuth:
    """``connector.auth``: how the connector authenticates (other keys are kept in ``extra``)."""

    method: str
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)


@dataclass(frozen=True)
class RecipeIncremental:
    """``connector.incremental``: default incremental settings of the jobs using the recipe
    (other keys, such as ``lookback_days``, are kept in ``extra``)."""

    strategy: str | None = None
    cursor_field: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, metadata=EXTRA)

    def given(self) -> dict[str, Any]:
        """The settings the recipe gives (those left out are absent, not None)."""
        named = {"strategy": self.strategy, "cursor_field": self.cursor_field}
        return {**{k: v for k, v in named.items() if v is not None}, **self.extra}


@dataclass(frozen=True)
class RecipeBody:
    """A recipe's ``connector`` block."""

    name: str
    role: str
    auth: RecipeAuth
    description: str | None = None
    incremental: RecipeIncremental = field(default_factory=RecipeIncremental)
    defaults: dict[str, Any] = field(default_factory=dict)


# --- the runner settings (schemas/runner.schema.json) ----------------------------------------


@dataclass(frozen=True)
class ScheduleEntry:
    """One ``runner.orchestrator.schedules`` entry."""

    name: str
    config: str
    cron: str
    enabled: bool = True
    timezone: str | None = None


@dataclass(frozen=True)
class PostgresStorage:
    """``runner.orchestrator.storage.postgres``: a URL, or the variable holding it."""

    url: str | None = None
    url_env: str | None = None


@dataclass(frozen=True)
class StorageSettings:
    """``runner.orchestrator.storage``: Dagster's storage (SQLite when no PostgreSQL is given)."""

    postgres: PostgresStorage | None = None


@dataclass(frozen=True)
class CodeServer:
    """One ``runner.orchestrator.code_servers`` entry: a code location served from another machine."""

    name: str
    host: str
    port: int


@dataclass(frozen=True)
class OrchestratorSettings:
    """``runner.orchestrator``: the orchestrator and its schedules."""

    type: str
    schedules: tuple[ScheduleEntry, ...]
    concurrency_per_tenant: int = 1
    max_parallel_partitions: int = 1
    timezone: str | None = None
    state_dir: str | None = None
    secrets_dir: str | None = None
    dagster_home: str | None = None
    storage: StorageSettings = field(default_factory=StorageSettings)
    code_servers: tuple[CodeServer, ...] = ()


@dataclass(frozen=True)
class RunnerSettings:
    """The runner file's ``runner`` block."""

    mode: str | None = None
    orchestrator: OrchestratorSettings | None = None
    allowed_paths: tuple[str, ...] = ()
    naming_variables: tuple[str, ...] = ()


# --- reading a validated document into a model -----------------------------------------------


_HINTS: dict[object, dict[str, object]] = {}


def _hints(model: object) -> dict[str, object]:
    """The model's field types, resolved once."""
    if model not in _HINTS:
        _HINTS[model] = get_type_hints(model)
    return _HINTS[model]


def _optional(hint: Any) -> Any:
    """``X`` of ``X | None``; other hints unchanged."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _value(hint: Any, value: Any) -> Any:
    hint = _optional(hint)
    if isinstance(hint, type) and is_dataclass(hint):
        return parse(hint, value or {})
    if get_origin(hint) is tuple:
        item = get_args(hint)[0]
        return tuple(_value(item, v) for v in value or ())
    if get_origin(hint) is dict:
        item = get_args(hint)[1]
        if isinstance(item, type) and is_dataclass(item):
            return {key: parse(item, entry or {}) for key, entry in (value or {}).items()}
        return dict(value or {})
    return value


def parse(model: type[Model], data: dict[str, Any]) -> Model:
    """``model`` filled from a schema-validated mapping: absent keys take the field defaults,
    nested blocks their models, and undeclared keys of an open block go to its ``extra``."""
    hints = _hints(model)
    values: dict[str, object] = {}
    declared = {item.name for item in fields(model) if not item.metadata.get("extra")}  # type: ignore[arg-type]
    for item in fields(model):  # type: ignore[arg-type]
        if item.metadata.get("extra"):
            values[item.name] = {k: v for k, v in data.items() if k not in declared}
        elif data.get(item.name) is not None:
            values[item.name] = _value(hints[item.name], data[item.name])
        elif item.default is MISSING and item.default_factory is MISSING:
            values[item.name] = _value(hints[item.name], None)
    return model(**values)
