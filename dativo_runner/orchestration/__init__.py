"""Orchestrated mode: the runner YAML as a Dagster code location.

Load it in any Dagster deployment with ``dagster dev -m dativo_runner.orchestration`` (or a
workspace entry naming this module), with ``DATIVO_RUNNER_CONFIG`` naming the runner YAML and
``DATIVO_HOME`` the project home (default: the working directory). `dativo start orchestrated`
does exactly that with an instance of its own. The definitions are built lazily, when Dagster
loads the location, so importing a submodule builds nothing.
"""

from __future__ import annotations

import dagster as dg

from dativo_runner.home import ProjectHome
from dativo_runner.orchestration.definitions import DativoTranslator, build_definitions
from dativo_runner.orchestration.runner_yaml import load_runner_config, runner_config_path

__all__ = ["DativoTranslator", "build_definitions", "defs", "load_runner_config"]


@dg.definitions
def defs() -> dg.Definitions:
    """The definitions of ``$DATIVO_RUNNER_CONFIG``. A bad runner YAML fails the load with its
    one-line problems; a job that stopped validating since `dativo start` checked it keeps its
    asset, whose runs fail with the CLI's error line (see ``load_runner_config``)."""
    home = ProjectHome.from_option(None)
    return build_definitions(load_runner_config(runner_config_path(None, home), home, strict=False))
