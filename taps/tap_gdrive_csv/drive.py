"""Drive v3 calls of tap-gdrive-csv: which files a folder holds, and their CSV content.

Listing uses ``files.list`` with a ``q`` on the parent folder, the MIME types read, ``trashed =
false`` and, with a ``start_date``, ``modifiedTime >=`` it; pages are followed with ``pageToken``,
oldest file first. CSV files are
downloaded with ``alt=media``; native Google spreadsheets are exported as CSV (their first sheet).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tap_csv.files import FileSpec

SPREADSHEET = "application/vnd.google-apps.spreadsheet"
CSV_TYPES = ("text/csv", "text/plain", "text/tab-separated-values", "application/csv")
FILE_FIELDS = "nextPageToken, files(id, name, mimeType, modifiedTime, size)"


@dataclass(frozen=True)
class FolderSpec:
    """One `files` entry: a folder, a name pattern and tap-csv's CSV options."""

    folder_id: str
    name_pattern: str
    csv: FileSpec

    @classmethod
    def from_config(cls, entry: dict[str, Any], index: int) -> FolderSpec:
        pattern = entry.get("name_pattern") or "*"
        return cls(entry["folder_id"], pattern, FileSpec.from_config({**entry, "path": pattern}, index))

    @property
    def object(self) -> str:
        return self.csv.object

    @property
    def key(self) -> str:
        """The folder's bookmark key in the stream state."""
        return f"{self.folder_id}/{self.name_pattern}"

    @property
    def setting(self) -> str:
        return self.csv.setting


@dataclass(frozen=True)
class DriveFile:
    """A file as files.list describes it."""

    id: str
    name: str
    mime_type: str
    modified_time: str

    @property
    def display(self) -> str:
        """How messages name it: ``deals_2026-01.csv (Drive file 1AbC)``."""
        return f"{self.name} (Drive file {self.id})"


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def list_query(folder_id: str, since: str | None) -> str:
    """The ``q`` of files.list: CSV files and spreadsheets in the folder, not trashed, modified
    at or after ``since`` when given."""
    types = " or ".join(f"mimeType = {_quote(t)}" for t in (*CSV_TYPES, SPREADSHEET))
    q = f"{_quote(folder_id)} in parents and trashed = false and ({types})"
    if since:
        q += f" and modifiedTime >= {_quote(since)}"
    return q


def list_params(folder_id: str, since: str | None, page_size: int, token: str | None) -> dict[str, Any]:
    """files.list query parameters for one page."""
    params: dict[str, Any] = {
        "q": list_query(folder_id, since),
        "orderBy": "modifiedTime,name",
        "pageSize": page_size,
        "fields": FILE_FIELDS,
        "supportsAllDrives": "true",
        "includeItemsFromAllDrives": "true",
    }
    if token:
        params["pageToken"] = token
    return params


def files_of_page(body: dict[str, Any], pattern: str) -> Iterator[DriveFile]:
    """The files of one files.list page whose name matches the glob ``pattern``."""
    for item in body.get("files") or []:
        if fnmatch.fnmatchcase(item.get("name", ""), pattern):
            yield DriveFile(item["id"], item["name"], item.get("mimeType", ""), item["modifiedTime"])


def content_request(api_url: str, item: DriveFile) -> tuple[str, dict[str, Any]]:
    """URL and parameters that give a file's CSV bytes: download, or export a spreadsheet."""
    base = f"{api_url}/drive/v3/files/{item.id}"
    if item.mime_type == SPREADSHEET:
        return f"{base}/export", {"mimeType": "text/csv"}
    return base, {"alt": "media", "supportsAllDrives": "true"}
