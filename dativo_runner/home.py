"""The project home: where relative paths in configs resolve and conventional files live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CONTAINER_HOME = "/app"  # the Docker image's layout, used by the product's example configs


@dataclass(frozen=True)
class ProjectHome:
    """A folder holding connectors/, assets/, jobs/, configs/, registry/ and state/."""

    root: Path
    #: Where the home came from, for messages: ``--home``, ``DATIVO_HOME`` or the current folder.
    origin: str = "given"

    @classmethod
    def from_option(cls, option: str | None) -> ProjectHome:
        """``--home``, else ``DATIVO_HOME``, else the current directory."""
        if option:
            return cls(Path(option).resolve(), "--home")
        if os.environ.get("DATIVO_HOME"):
            return cls(Path(os.environ["DATIVO_HOME"]).resolve(), "DATIVO_HOME")
        return cls(Path.cwd().resolve(), "the current folder")

    def not_found(self, what: str = "file") -> str:
        """``<what> not found in the project home /x (DATIVO_HOME): ...`` naming how to choose it."""
        return (
            f"{what} not found in the project home {self.root} ({self.origin}): "
            "pass --home or set DATIVO_HOME to the folder holding registry/, connectors/ and jobs/"
        )

    def resolve(self, value: str | os.PathLike[str]) -> Path:
        """A config path: relative ones start at the home; ``/app/...`` maps to the home too
        when the container folder does not exist here."""
        path = Path(value)
        if not path.is_absolute():
            return self.root / path
        if not path.exists() and str(path).startswith(CONTAINER_HOME + "/"):
            return self.root / path.relative_to(CONTAINER_HOME)
        return path

    def display(self, path: Path) -> str:
        """A path as shown in messages: relative to the home when inside it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def source_connector(self, name: str) -> Path:
        """Conventional location of a source connector recipe."""
        return self.root / "connectors" / "sources" / f"{name}.yaml"

    def target_connector(self, name: str) -> Path:
        """Conventional location of a target connector recipe."""
        return self.root / "connectors" / "targets" / f"{name}.yaml"

    @property
    def registry(self) -> Path:
        """The connector registry."""
        return self.root / "registry" / "connectors.yaml"

    @property
    def policy(self) -> Path:
        """The governance policy."""
        return self.root / "configs" / "policy.yaml"

    @property
    def warehouse(self) -> Path:
        """The embedded default Iceberg warehouse."""
        return self.root / "warehouse"

    @property
    def runner_config(self) -> Path:
        """The runner configuration (schedules, allowed paths)."""
        return self.root / "configs" / "runner.yaml"

    def outside(self, path: Path, allowed: list[Path]) -> bool:
        """True when ``path``, with symlinks resolved, is neither under the home nor under one of
        the ``allowed`` folders."""
        real = path.resolve()
        return not any(real.is_relative_to(root.resolve()) for root in (self.root, *allowed))

    def escapes(self, path: Path, root: Path) -> bool:
        """True when ``path`` exists (or is a dangling link) and, with symlinks resolved, is not
        under ``root`` (resolved too)."""
        if not (path.exists() or path.is_symlink()):
            return False
        return not path.resolve().is_relative_to(root.resolve())

    @property
    def state_dir(self) -> Path:
        """Default folder of run state files."""
        return self.root / "state"
