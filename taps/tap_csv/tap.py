"""TapCSV: the singer-sdk Tap class and the `tap-csv` console script."""

from __future__ import annotations

from typing import Any

from singer_sdk import Stream

from dativo_singer.batch_settings import append_parquet_batch_config
from dativo_singer.cli import run_tap_cli
from dativo_singer.errors import FatalError
from dativo_singer.file_tap import FileTap
from tap_csv.files import FileSpec, resolve_paths
from tap_csv.header import check_names, other_delimiters
from tap_csv.reader import CSVFile
from tap_csv.settings import CONFIG_SCHEMA, config_problems
from tap_csv.streams import CSVStream


class TapCSV(FileTap):
    """Reads local CSV files; one stream per configured object, incremental per file."""

    name = "tap-csv"
    package_name = "dativo-tap-csv"  # its distribution: --version
    config_jsonschema = CONFIG_SCHEMA
    config_problems = staticmethod(config_problems)

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        """singer-sdk's built-in settings, ``batch_config`` with the Parquet codecs we write."""
        append_parquet_batch_config(config_jsonschema)
        super().append_builtin_config(config_jsonschema)

    def _specs_by_object(self) -> dict[str, list[FileSpec]]:
        grouped: dict[str, list[FileSpec]] = {}
        for index, entry in enumerate(self.config["files"]):
            spec = FileSpec.from_config(entry, index)
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
                with CSVFile(spec, paths[0]) as file:
                    check_names(file)
                    names = file.header
                    if other_delimiters(file):
                        self.logger.warning(
                            "%s has one column %r: is %s.delimiter (%r) right?",
                            file.path,
                            names[0],
                            spec.setting,
                            spec.delimiter,
                        )
                break
        else:
            raise FatalError(
                f"{specs[0].setting}.path: no file matches {specs[0].path!r} to read a header from"
            )
        return {
            "type": "object",
            "properties": {name: {"type": ["string", "null"]} for name in names},
        }

    def discover_streams(self) -> list[Stream]:
        """One CSVStream per object named in `files`."""
        schemas: dict[str, Any] = self.config.get("schemas") or {}
        keys: dict[str, list[str]] = self.config.get("key_properties") or {}
        streams: list[Stream] = []
        for name, specs in self._specs_by_object().items():
            schema = schemas.get(name) or self._infer_schema(specs)
            key = list(keys.get(name) or [])
            unknown = [k for k in key if k not in schema.get("properties", {})]
            if unknown:
                raise FatalError(f"key_properties.{name}: {unknown[0]!r} is not a column of {name!r}")
            streams.append(
                CSVStream(
                    tap=self,
                    name=name,
                    schema=schema,
                    specs=specs,
                    key_properties=key,
                    base_dir=self.config.get("base_dir"),
                )
            )
        return streams


def main() -> None:
    """Console script `tap-csv`."""
    run_tap_cli("tap-csv", TapCSV)
