"""The connector registry: which connectors exist, their executables, auth methods and modes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.schema_validation import validate_document
from dativo_runner.yaml_io import load_yaml


@dataclass(frozen=True)
class ConnectorEntry:
    """One registered connector."""

    name: str
    role: str
    category: str
    executable: str
    auth_methods: tuple[str, ...]
    modes: tuple[str, ...]
    incremental_strategies: tuple[str, ...]
    plugin: str | None = None  # ``module:Class`` of its runner plugin
    description: str = ""

    @classmethod
    def from_dict(cls, name: str, role: str, data: dict[str, Any]) -> ConnectorEntry:
        """Build from a registry YAML entry."""
        return cls(
            name=name,
            role=role,
            category=data["category"],
            executable=data["executable"],
            auth_methods=tuple(data["auth_methods"]),
            modes=tuple(data["modes"]),
            incremental_strategies=tuple(data.get("incremental_strategies") or ()),
            plugin=data.get("plugin"),
            description=str(data.get("description") or ""),
        )


@dataclass(frozen=True)
class Registry:
    """All registered sources and targets."""

    file: str
    sources: dict[str, ConnectorEntry]
    targets: dict[str, ConnectorEntry]

    @classmethod
    def load(cls, path: Path, display: str) -> Registry:
        """Read and schema-check the registry file."""
        data = load_yaml(path, display=display)
        problems = validate_document("registry", data, display)
        if problems:
            raise ConfigError(problems)
        body = data["registry"]
        return cls(
            file=display,
            sources={n: ConnectorEntry.from_dict(n, "source", d) for n, d in body["sources"].items()},
            targets={n: ConnectorEntry.from_dict(n, "target", d) for n, d in body["targets"].items()},
        )

    def check(self, role: str, name: str, mode: str, job_file: str) -> list[Problem]:
        """Problems with using connector ``name`` as ``role`` in ``mode``."""
        entries = self.sources if role == "source" else self.targets
        field = f"{role}_connector"
        entry = entries.get(name)
        if entry is None:
            known = ", ".join(sorted(entries))
            return [Problem(job_file, field, f"unknown {role} connector {name!r} (registered: {known})")]
        if mode not in entry.modes:
            allowed = " or ".join(entry.modes)
            why = " (database connectors run only self-hosted)" if entry.category == "database" else ""
            return [
                Problem(
                    job_file,
                    field,
                    f"{role} connector {name!r} is not allowed in {mode} mode, only {allowed}{why}",
                )
            ]
        return []

    def entry(self, role: str, name: str) -> ConnectorEntry:
        """A registered connector (call ``check`` first)."""
        return (self.sources if role == "source" else self.targets)[name]
