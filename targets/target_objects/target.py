"""TargetObjects: the singer-sdk Target class and the `target-objects` console script.

Commit-at-STATE bookkeeping is ``dativo_singer.target.CommitAtStateTarget``; this adds the
settings, the object store (checked at start-up, before anything is written) and the sink.
"""

from __future__ import annotations

from typing import Any

from dativo_singer.cli import run_plugin_cli
from dativo_singer.target import CommitAtStateTarget
from target_objects.keys import new_run_id
from target_objects.settings import CONFIG_SCHEMA, object_settings
from target_objects.sink import ObjectSink
from target_objects.stores import open_store


class TargetObjects(CommitAtStateTarget):
    """Writes Singer streams as files on S3-compatible stores, Azure Blob or a local folder."""

    name = "target-objects"
    package_name = "dativo-target-objects"  # its distribution: --version
    default_sink_class = ObjectSink
    config_jsonschema = CONFIG_SCHEMA

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = object_settings(self.config)
        self.store = open_store(self.config, retrying=True)
        self.store.check()  # a missing bucket or wrong credentials stop the run here
        self.run_id = new_run_id()


def main() -> None:
    """Console script `target-objects`."""
    run_plugin_cli("target-objects", TargetObjects.cli)
