"""TapCSV: the singer-sdk Tap class and the `tap-csv` console script."""

from __future__ import annotations

import csv
from typing import Any

from singer_sdk import Stream, Tap
from singer_sdk import typing as th

from dativo_singer.cli import run_plugin_cli
from dativo_singer.errors import FatalError
from tap_csv.files import FileSpec, resolve_paths
from tap_csv.streams import CSVStream

FILE_ENTRY = th.ObjectType(
    th.Property("object", th.StringType, required=True, description="Stream (object) name"),
    th.Property("path", th.StringType, required=True, description="File path or glob"),
    th.Property("delimiter", th.StringType, default=","),
    th.Property("encoding", th.StringType, default="utf-8"),
    th.Property("header", th.BooleanType, default=True, description="First row names columns"),
    th.Property("columns", th.ArrayType(th.StringType), description="Column names, no header"),
    th.Property("skip_rows", th.IntegerType, default=0, description="Lines to skip first"),
    th.Property("quotechar", th.StringType, default='"'),
    th.Property("null_values", th.ArrayType(th.StringType), description="Cells read as null"),
)


class TapCSV(Tap):
    """Reads local CSV files; one stream per configured object."""

    name = "tap-csv"
    package_name = "dativo-ingest"
    config_jsonschema = th.PropertiesList(
        th.Property("files", th.ArrayType(FILE_ENTRY), required=True),
        th.Property(
            "schemas",
            th.ObjectType(additional_properties=True),
            description="JSON Schema per object; without one, every header column is a string",
        ),
        th.Property(
            "key_properties",
            th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
            description="Primary key columns per object",
        ),
        th.Property("base_dir", th.StringType, description="Directory relative paths start from"),
        th.Property(
            "on_invalid_value",
            th.StringType,
            allowed_values=["fail", "pass"],
            default="fail",
            description="fail: stop naming file, line and column; pass: emit the raw text and let "
            "the target reject (dead-letter) the record",
        ),
    ).to_dict()

    def _specs_by_object(self) -> dict[str, list[FileSpec]]:
        grouped: dict[str, list[FileSpec]] = {}
        for entry in self.config["files"]:
            spec = FileSpec.from_config(entry)
            grouped.setdefault(spec.object, []).append(spec)
        return grouped

    def _infer_schema(self, specs: list[FileSpec]) -> dict[str, Any]:
        """Every column a nullable string, read from the first matching file's header."""
        for spec in specs:
            if spec.columns:
                names = list(spec.columns)
                break
            paths = resolve_paths(spec.path, self.config.get("base_dir"))
            if paths:
                with paths[0].open(newline="", encoding=spec.encoding) as handle:
                    names = next(csv.reader(handle, delimiter=spec.delimiter), [])
                break
        else:
            raise FatalError(f"no file matches {specs[0].path!r} to read a header from")
        return {
            "type": "object",
            "properties": {name: {"type": ["string", "null"]} for name in names},
        }

    def discover_streams(self) -> list[Stream]:
        """One CSVStream per object named in `files`."""
        schemas: dict[str, Any] = self.config.get("schemas") or {}
        keys: dict[str, list[str]] = self.config.get("key_properties") or {}
        return [
            CSVStream(
                tap=self,
                name=name,
                schema=schemas.get(name) or self._infer_schema(specs),
                specs=specs,
                key_properties=list(keys.get(name) or []),
                base_dir=self.config.get("base_dir"),
            )
            for name, specs in self._specs_by_object().items()
        ]


def main() -> None:
    """Console script `tap-csv`."""
    run_plugin_cli("tap-csv", TapCSV.cli)
