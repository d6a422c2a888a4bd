"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.project import Project

pytest_plugins = ["tests.conftest_services"]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A fresh project home with the repo's registry, connectors and assets."""
    return Project.create(tmp_path / "home")
