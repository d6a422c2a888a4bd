"""TapGDriveCSV: the singer-sdk Tap class and the `tap-gdrive-csv` console script."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from singer_sdk import Stream
from tap_csv.header import check_names

from dativo_singer.cli import run_tap_cli
from dativo_singer.errors import FatalError
from dativo_singer.file_tap import FileTap
from tap_gdrive_csv.drive import FolderSpec
from tap_gdrive_csv.rows import opened
from tap_gdrive_csv.settings import CONFIG_SCHEMA, config_problems
from tap_gdrive_csv.streams import DriveCSVStream


class TapGDriveCSV(FileTap):
    """Reads CSV files (and native spreadsheets as CSV) from Google Drive folders; one stream
    per configured object, incremental on each file's modifiedTime."""

    name = "tap-gdrive-csv"
    package_name = "dativo-tap-gdrive-csv"  # its distribution: --version
    config_jsonschema = CONFIG_SCHEMA
    config_problems = staticmethod(config_problems)

    def _specs_by_object(self) -> dict[str, list[FolderSpec]]:
        grouped: dict[str, list[FolderSpec]] = {}
        for index, entry in enumerate(self.config["files"]):
            spec = FolderSpec.from_config(entry, index)
            grouped.setdefault(spec.object, []).append(spec)
        return grouped

    def _infer_schema(self, name: str, specs: list[FolderSpec]) -> dict[str, Any]:
        """Every column a nullable string, from the header of the first matching file."""
        probe = DriveCSVStream(self, name, {"type": "object", "properties": {}}, specs, [])
        for spec in specs:
            names = list(spec.csv.columns)
            if not names:
                found = probe.list_folder(spec, None)
                if not found:
                    continue
                with tempfile.TemporaryDirectory(prefix="tap-gdrive-csv-") as folder:
                    path = probe.download(found[0], Path(folder))
                    with opened(spec.csv, path, found[0].display, [], []) as file:
                        check_names(file)
                        names = file.header
            return {"type": "object", "properties": {n: {"type": ["string", "null"]} for n in names}}
        raise FatalError(f"{specs[0].setting}.folder_id: no file of folder {specs[0].folder_id} matches "
                         f"{specs[0].name_pattern!r} to read a header from; give schemas.{name}")

    def discover_streams(self) -> list[Stream]:
        """One DriveCSVStream per object named in `files`."""
        schemas: dict[str, Any] = self.config.get("schemas") or {}
        keys: dict[str, list[str]] = self.config.get("key_properties") or {}
        streams: list[Stream] = []
        for name, specs in self._specs_by_object().items():
            schema = schemas.get(name) or self._infer_schema(name, specs)
            key = list(keys.get(name) or [])
            unknown = [k for k in key if k not in schema.get("properties", {})]
            if unknown:
                raise FatalError(f"key_properties.{name}: {unknown[0]!r} is not a column of {name!r}")
            streams.append(DriveCSVStream(self, name, schema, specs, key))
        return streams


def main() -> None:
    """Console script `tap-gdrive-csv`."""
    run_tap_cli("tap-gdrive-csv", TapGDriveCSV)
