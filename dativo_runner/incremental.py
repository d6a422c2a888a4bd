"""Incremental settings: the recipe's ``incremental`` block under the job's ``source.incremental``,
checked against the registry and the source plugin, and turned into Singer catalog metadata."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dativo_runner.config_models import IncrementalSettings, RecipeIncremental
from dativo_runner.errors import Problem

FULL_TABLE = "full_table"
LOG_BASED = "log_based"
# Settings only a log-based read takes (where the change log is read from).
LOG_SETTINGS = ("publication", "slot")


@dataclass(frozen=True)
class Incremental:
    """How a job reads its source again: strategy, cursor column and look-back."""

    strategy: str | None = None
    cursor_field: str | None = None
    lookback_days: int | None = None
    start_date: str | None = None
    publication: str | None = None
    slot: str | None = None

    @property
    def log_based(self) -> bool:
        """True when the source reads its change log (docs/CDC.md)."""
        return self.strategy == LOG_BASED

    def catalog_metadata(self) -> dict[str, Any]:
        """Singer stream metadata (``replication-method``, ``replication-key``) for this setting."""
        if self.strategy == FULL_TABLE:
            return {"replication-method": "FULL_TABLE"}
        if self.strategy == LOG_BASED:
            return {"replication-method": "LOG_BASED"}
        if self.cursor_field:
            return {"replication-method": "INCREMENTAL", "replication-key": self.cursor_field}
        return {}


def resolve_incremental(
    recipe: RecipeIncremental,
    job: IncrementalSettings,
    *,
    file: str,
    connector: str,
    strategies: tuple[str, ...],
    supported: tuple[str, ...],
    columns: set[str],
    cursor_strategies: tuple[str, ...] = (),
    log_based: bool = True,
    keys: tuple[str, ...] | None = None,
) -> tuple[Incremental, list[Problem]]:
    """The effective settings and every problem with them (unknown strategy, a setting the tap
    does not honour, a cursor column the asset lacks, ``log_based`` without the plugin's
    capability or the asset's primary key). ``strategies`` are the registry's, ``supported``,
    ``cursor_strategies`` (those reading past a cursor column's last value) and ``log_based``
    what the source plugin declares; ``keys`` the asset's primary key (None: not checked)."""
    job_block = job.given()
    merged = {**recipe.given(), **job_block}
    problems: list[Problem] = []
    strategy = merged.get("strategy") or (strategies[0] if len(strategies) == 1 else None)
    if strategy and strategies and strategy not in strategies:
        problems.append(
            Problem(
                file,
                "source.incremental.strategy",
                f"{strategy!r} is not a strategy of the {connector} connector "
                f"(registered: {', '.join(strategies)})",
            )
        )
    if strategy == LOG_BASED:
        problems.extend(_log_based_problems(file, connector, log_based, keys))
    for key in ("cursor_field", "lookback_days", "start_date", *LOG_SETTINGS):
        if key in job_block and key in LOG_SETTINGS and strategy != LOG_BASED and key in supported:
            problems.append(
                Problem(file, f"source.incremental.{key}", f"is used only with strategy {LOG_BASED!r}")
            )
        elif key in job_block and strategy == LOG_BASED and key not in LOG_SETTINGS and key in supported:
            problems.append(
                Problem(
                    file,
                    f"source.incremental.{key}",
                    f"is not used by strategy {LOG_BASED!r} (it reads the change log)",
                )
            )
        if key in job_block and key not in supported:
            problems.append(
                Problem(
                    file,
                    f"source.incremental.{key}",
                    f"is not used by the {connector} connector"
                    + (f" (strategy {strategy})" if strategy else ""),
                )
            )
    cursor = merged.get("cursor_field") if "cursor_field" in supported and strategy != LOG_BASED else None
    if strategy in cursor_strategies and "cursor_field" in supported and not cursor:
        problems.append(
            Problem(file, "source.incremental.cursor_field", f"is required by strategy {strategy!r}")
        )
    if cursor and cursor not in columns:
        problems.append(
            Problem(file, "source.incremental.cursor_field", f"{cursor!r} is not a column of the asset")
        )
    settings = Incremental(
        strategy=strategy,
        cursor_field=cursor,
        lookback_days=merged.get("lookback_days") if "lookback_days" in supported else None,
        start_date=merged.get("start_date") if "start_date" in supported else None,
        publication=merged.get("publication") if "publication" in supported else None,
        slot=merged.get("slot") if "slot" in supported else None,
    )
    return settings, problems


def _log_based_problems(
    file: str, connector: str, capable: bool, keys: tuple[str, ...] | None
) -> list[Problem]:
    """Strategy ``log_based`` needs a source plugin that reads a change log and an asset with a
    primary key (each change is applied to one row by its key)."""
    problems = []
    if not capable:
        problems.append(
            Problem(
                file,
                "source.incremental.strategy",
                f"{LOG_BASED!r} is not offered by the {connector} connector's plugin",
            )
        )
    if keys is not None and not keys:
        problems.append(
            Problem(
                file,
                "source.incremental.strategy",
                f"{LOG_BASED!r} needs the asset's primary key (each change is applied to one row by its key)",
            )
        )
    return problems
