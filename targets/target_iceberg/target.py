"""TargetIceberg: the singer-sdk Target class and the `target-iceberg` console script."""

from __future__ import annotations

from functools import cached_property

import orjson
from pyiceberg.catalog import Catalog
from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.singerlib.encoding.simple import SimpleSingerReader

from dativo_singer.cli import run_plugin_cli
from target_iceberg.catalog import open_catalog
from target_iceberg.sink import IcebergSink


class OrjsonSingerReader(SimpleSingerReader):
    """Reads Singer lines with orjson: several times faster than the stdlib decoder."""

    def deserialize_json(self, line: str) -> dict:
        """Decode one message line."""
        return orjson.loads(line)


class TargetIceberg(Target):
    """Writes Singer streams to Iceberg tables in any pyiceberg catalog."""

    name = "target-iceberg"
    default_sink_class = IcebergSink
    message_reader_class = OrjsonSingerReader
    config_jsonschema = th.PropertiesList(
        th.Property(
            "catalog",
            th.ObjectType(additional_properties=True),
            description="pyiceberg catalog properties, passed to load_catalog verbatim",
        ),
        th.Property(
            "warehouse_dir",
            th.StringType,
            default="warehouse",
            description="Folder of the embedded SQLite catalog and file warehouse (no `catalog`)",
        ),
        th.Property("namespace", th.StringType, default="default", description="Iceberg namespace"),
        th.Property(
            "table_names",
            th.ObjectType(additional_properties=th.StringType),
            description="Table name per stream (default: the stream name)",
        ),
        th.Property(
            "table_properties",
            th.ObjectType(additional_properties=th.StringType),
            description="Properties set on tables this target creates",
        ),
    ).to_dict()

    @cached_property
    def catalog(self) -> Catalog:
        """The Iceberg catalog, opened on first use."""
        return open_catalog(dict(self.config))


def main() -> None:
    """Console script `target-iceberg`."""
    run_plugin_cli("target-iceberg", TargetIceberg.cli)
