"""`dativo validate`: jobs with everything they reference, or every YAML file of the project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.home import ProjectHome
from dativo_runner.schema_validation import validate_document
from dativo_runner.yaml_io import load_yaml

# Which schema checks the files of each project folder.
_LOCATIONS: tuple[tuple[str, str], ...] = (
    ("registry/connectors.yaml", "registry"),
    ("connectors/sources/*.yaml", "connector"),
    ("connectors/targets/*.yaml", "connector"),
    ("assets/**/*.yaml", "asset"),
    ("jobs/**/*.yaml", "job"),
    ("configs/runner*.yaml", "runner"),
    ("configs/policy*.yaml", "policy"),
)


def project_documents(home: ProjectHome) -> Iterator[tuple[Path, str]]:
    """Every YAML file of the project with the kind of document it must be."""
    for pattern, kind in _LOCATIONS:
        for path in sorted(home.root.glob(pattern)):
            yield path, kind


def validate_file(path: Path, kind: str, home: ProjectHome) -> list[Problem]:
    """Schema problems of one file (jobs are checked fully by `dativo validate --config`)."""
    display = home.display(path)
    try:
        data = load_yaml(path, display=display)
    except ConfigError as exc:
        return exc.problems
    return validate_document(kind, data, display)


def validate_project(home: ProjectHome) -> tuple[int, list[Problem]]:
    """Number of files checked and every problem found."""
    count, problems = 0, []
    for path, kind in project_documents(home):
        count += 1
        problems.extend(validate_file(path, kind, home))
    return count, problems
