"""TargetIceberg: the singer-sdk Target class and the `target-iceberg` console script.

Commit-at-STATE bookkeeping is ``dativo_singer.target.CommitAtStateTarget``; this adds the
catalog and the Iceberg sink.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pyiceberg.catalog import Catalog

from dativo_singer.cli import run_plugin_cli
from dativo_singer.target import CommitAtStateTarget
from target_iceberg.catalog import open_catalog
from target_iceberg.naming import namespace_for
from target_iceberg.settings import CONFIG_SCHEMA
from target_iceberg.sink import IcebergSink


class TargetIceberg(CommitAtStateTarget):
    """Writes Singer streams to Iceberg tables in any pyiceberg catalog."""

    name = "target-iceberg"
    package_name = "dativo-target-iceberg"  # its distribution: --version
    default_sink_class = IcebergSink
    config_jsonschema = CONFIG_SCHEMA

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        namespace_for(self.config)  # a namespace that would name a path outside: refused first

    @cached_property
    def catalog(self) -> Catalog:
        """The Iceberg catalog, opened on first use."""
        return open_catalog(dict(self.config))


def main() -> None:
    """Console script `target-iceberg`."""
    run_plugin_cli("target-iceberg", TargetIceberg.cli)
