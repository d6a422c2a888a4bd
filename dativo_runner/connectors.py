"""Connector recipes (``connectors/sources/*.yaml``, ``connectors/targets/*.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dativo_runner.config_models import RecipeBody, RecipeIncremental, parse
from dativo_runner.errors import Problem
from dativo_runner.registry import ConnectorEntry
from dativo_runner.schema_validation import validate_document
from dativo_runner.yaml_io import load_yaml


@dataclass(frozen=True)
class ConnectorRecipe:
    """A connector's recipe: auth method, incremental defaults and config defaults."""

    name: str
    role: str
    auth_method: str
    defaults: dict[str, Any] = field(default_factory=dict)
    incremental: RecipeIncremental = field(default_factory=RecipeIncremental)


def load_recipe(
    path: Path, display: str, entry: ConnectorEntry, problems: list[Problem]
) -> ConnectorRecipe | None:
    """Read a recipe and check it against the registry entry; problems are appended."""
    data = load_yaml(path, display=display)
    found = validate_document("connector", data, display)
    if found:
        problems.extend(found)
        return None
    body = parse(RecipeBody, data["connector"])
    if body.name != entry.name:
        problems.append(Problem(display, "connector.name", f"is {body.name!r}, expected {entry.name!r}"))
    if body.role != entry.role:
        problems.append(Problem(display, "connector.role", f"is {body.role!r}, expected {entry.role!r}"))
    method = body.auth.method
    if method not in entry.auth_methods:
        allowed = ", ".join(entry.auth_methods)
        problems.append(
            Problem(
                display,
                "connector.auth.method",
                f"{method!r} is not registered (allowed: {allowed})",
            )
        )
    return ConnectorRecipe(
        name=body.name,
        role=body.role,
        auth_method=method,
        defaults=body.defaults,
        incremental=body.incremental,
    )
