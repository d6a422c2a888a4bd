"""DriveCSVStream: one Singer stream per object, read from the CSV files of Drive folders."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from singer_sdk import Tap
from singer_sdk.helpers.conform import TypeConformanceLevel

from dativo_singer.google_auth import DRIVE_READONLY
from dativo_singer.google_rest import GoogleAPIStream
from dativo_singer.source_files import (
    FILES_STATE_KEY,
    SOURCE_FILE,
    SOURCE_FILE_NAME,
    SOURCE_LINE,
    SOURCE_VERSION,
)
from dativo_singer.source_files import METADATA_PROPERTIES as FILE_METADATA
from tap_gdrive_csv.drive import DriveFile, FolderSpec, content_request, files_of_page, list_params
from tap_gdrive_csv.rows import opened, typed_rows

# Every record names its Drive file (the id: stable across renames), the file's name, the line
# the row starts on and the file's modifiedTime as its content version; a target that keeps
# `_sdc_source_file` and `_sdc_source_version` (target-iceberg does) replaces the rows of a
# file's older versions when a changed file is read again (see docs/GOOGLE.md).
METADATA_PROPERTIES: dict[str, Any] = {**FILE_METADATA, SOURCE_FILE_NAME: {"type": ["string", "null"]}}


class DriveCSVStream(GoogleAPIStream):
    """Rows of the CSV files (and native spreadsheets, exported as CSV) in the configured
    folders, typed by the object's JSON Schema, incremental on each file's ``modifiedTime``.

    The stream state keeps, per file, its ``modifiedTime``, the rows emitted and whether it was
    read to the end: an unchanged file is not downloaded again; a changed one is read whole under
    its new version; a file whose read was cut short resumes after its last emitted row. The
    folder is listed whole each run (metadata only): a file moved into it keeps its old
    ``modifiedTime``, which a ``modifiedTime >`` bookmark in the query would miss for good. Like
    tap-csv the catalog says FULL_TABLE and ACTIVATE_VERSION is never sent (it would drop the
    unchanged files' rows)."""

    service_name = "Google Drive"
    scopes = (DRIVE_READONLY,)
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # cells are typed by tap-csv's parsers

    def __init__(
        self, tap: Tap, name: str, schema: dict[str, Any], specs: list[FolderSpec], key_properties: list[str]
    ) -> None:
        self._specs = specs
        self._columns = [c for c in schema.get("properties", {}) if c not in METADATA_PROPERTIES]
        schema = {**schema, "properties": {**schema.get("properties", {}), **METADATA_PROPERTIES}}
        super().__init__(tap=tap, schema=schema, name=name)
        self.primary_keys = key_properties

    @property
    def emit_activate_version_messages(self) -> bool:
        """Never: unchanged files are not read again, their rows must stay."""
        return False

    def list_folder(self, spec: FolderSpec, since: str | None) -> list[DriveFile]:
        """Every matching file of the folder modified at or after ``since``, oldest first."""
        self.resource = f"folder {spec.folder_id} ({spec.setting}.folder_id)"
        url = f"{self.url_base}/drive/v3/files"
        found: list[DriveFile] = []
        token: str | None = None
        page_size = int(self.config.get("page_size") or 100)
        while True:
            body = self.get(url, list_params(spec.folder_id, since, page_size, token)).json()
            found.extend(files_of_page(body, spec.name_pattern))
            token = body.get("nextPageToken")
            if not token:
                return found

    def download(self, item: DriveFile, folder: Path) -> Path:
        """The file's CSV bytes saved under ``folder``."""
        self.resource = f"file {item.id} ({item.name})"
        url, params = content_request(self.url_base, item)
        path = folder / "content.csv"
        path.write_bytes(self.get(url, params).content)
        return path

    def _since(self) -> str | None:
        """``start_date`` as Drive writes times (files modified before it are not listed)."""
        start = self.config.get("start_date")
        return str(start).replace("+00:00", "Z") if start else None

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """Rows of every new, changed or partly read file of every folder of the object."""
        files: dict[str, Any] = self.stream_state.setdefault(FILES_STATE_KEY, {})
        for spec in self._specs:
            listed = self.list_folder(spec, self._since())
            self._forget_gone(files, spec.key, {item.id for item in listed})
            for item in listed:
                entry = files.get(item.id) or {}
                if entry.get("modifiedTime") == item.modified_time and entry.get("done"):
                    self.logger.info("Skipping unchanged %s", item.display)
                else:
                    same = entry.get("modifiedTime") == item.modified_time
                    entry = {
                        "folder": spec.key,
                        "name": item.name,
                        "modifiedTime": item.modified_time,
                        "rows": int(entry.get("rows") or 0) if same else 0,
                        "done": False,
                    }
                    files[item.id] = entry
                    yield from self._read(spec, item, entry)
                    entry["done"] = True

    @staticmethod
    def _forget_gone(files: dict[str, Any], folder: str, listed: set[str]) -> None:
        """Forget files no longer in the folder (deleted, trashed, moved away); their rows stay
        in the table, as nothing in the source says they should go."""
        for file_id, entry in list(files.items()):
            if entry.get("folder") == folder and file_id not in listed:
                del files[file_id]

    def _read(self, spec: FolderSpec, item: DriveFile, entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
        skip = entry["rows"]
        self.logger.info(
            "Reading %s modified %s%s",
            item.display,
            item.modified_time,
            f" from data row {skip + 1}" if skip else "",
        )
        properties = {k: v for k, v in self.schema["properties"].items() if k not in METADATA_PROPERTIES}
        required = list(self.schema.get("required") or ())
        with tempfile.TemporaryDirectory(prefix="tap-gdrive-csv-") as folder:
            path = self.download(item, Path(folder))
            with opened(spec.csv, path, item.display, self._columns, required) as file:
                rows = typed_rows(
                    file,
                    properties,
                    set(required),
                    display=item.display,
                    pass_invalid=self.config.get("on_invalid_value") == "pass",
                    logger=self.logger,
                )
                for index, (line, record) in enumerate(rows):
                    if index < skip:
                        continue
                    record.update(
                        {
                            SOURCE_FILE: item.id,
                            SOURCE_FILE_NAME: item.name,
                            SOURCE_LINE: line,
                            SOURCE_VERSION: item.modified_time,
                        }
                    )
                    entry["rows"] = index + 1
                    yield record
