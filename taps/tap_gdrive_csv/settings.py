"""tap-gdrive-csv settings: the config schema (shown by `--about`) and the checks run at start-up.

The CSV options of each `files` entry are tap-csv's (delimiter, encoding, header, columns,
skip_rows, quotechar, null_values), declared and checked by tap-csv's own code.
"""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th
from tap_csv.settings import FILE_ENTRY as CSV_FILE_ENTRY
from tap_csv.settings import _entry_problems as csv_entry_problems
from tap_csv.settings import _object_schema_problems as object_schema_problems

from dativo_singer.google_auth import AUTH_PROPERTIES, credentials_problems
from dativo_singer.rest import rest_properties
from dativo_singer.text_values import parse_datetime

DEFAULT_API_URL = "https://www.googleapis.com"
# Drive allows about 12,000 queries per minute per project; stay well below for one user.
DEFAULT_REQUESTS_PER_SECOND = 10.0
DEFAULT_PAGE_SIZE = 100

_CSV_OPTIONS = [prop for name, prop in CSV_FILE_ENTRY.wrapped.items() if name not in ("object", "path")]

FILE_ENTRY = th.ObjectType(
    th.Property("object", th.StringType, required=True,
                description="Stream name; several entries may name the same object (one stream)"),
    th.Property("folder_id", th.StringType, required=True,
                description="The Drive folder whose files are read (not its subfolders)"),
    th.Property("name_pattern", th.StringType, default="*",
                description="A glob on the file name (`deals_*.csv`); `*` takes every CSV file "
                "and native spreadsheet of the folder"),
    *_CSV_OPTIONS,
)

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    *AUTH_PROPERTIES,
    th.Property("files", th.ArrayType(FILE_ENTRY), required=True,
                description="The folders to read: one entry per folder and name pattern, each "
                "naming its object (stream)"),
    th.Property("schemas", th.ObjectType(additional_properties=True),
                description="JSON Schema per object, which types the cells; without one, every "
                "header column of the first file is a nullable string"),
    th.Property("key_properties", th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
                description="Primary key columns per object"),
    th.Property("start_date", th.DateTimeType,
                description="Only files modified at or after this moment (default: all)"),
    th.Property("page_size", th.IntegerType, default=DEFAULT_PAGE_SIZE,
                description="Files per files.list page (1-1000)"),
    th.Property("on_invalid_value", th.StringType, allowed_values=["fail", "pass"], default="fail",
                description="fail: stop naming file, line and column; pass: emit the raw text and "
                "let the target reject (dead-letter) the record"),
    *rest_properties(DEFAULT_API_URL, DEFAULT_REQUESTS_PER_SECOND),
).to_dict()


def _entry_problems(index: int, entry: Any) -> list[str]:
    where = f"files[{index}]"
    if not isinstance(entry, dict):
        return [f"{where}: expected an object with 'object' and 'folder_id', got {type(entry).__name__}"]
    problems = []
    if not entry.get("folder_id"):
        problems.append(f"{where}: 'folder_id' is required (the Drive folder's id, from its URL)")
    if "path" in entry:
        problems.append(f"{where}.path: not a setting of tap-gdrive-csv (use folder_id and name_pattern)")
    pattern = entry.get("name_pattern") or "*"
    problems += csv_entry_problems(index, {**entry, "path": pattern})
    return problems


def config_problems(config: dict[str, Any]) -> list[str]:
    """Every problem of a tap-gdrive-csv config, each one ``setting: what is wrong``."""
    problems = credentials_problems(config)
    files = config.get("files")
    if not isinstance(files, list) or not files:
        problems.append("files: is required: a list of {object, folder_id, name_pattern} entries")
    else:
        problems += [p for i, entry in enumerate(files) for p in _entry_problems(i, entry)]
    schemas = config.get("schemas")
    if isinstance(schemas, dict):
        for name, schema in schemas.items():
            problems += object_schema_problems(name, schema)
    size = config.get("page_size", DEFAULT_PAGE_SIZE)
    if not isinstance(size, int) or not 1 <= size <= 1000:
        problems.append(f"page_size: must be 1 to 1000, got {size!r}")
    if config.get("start_date"):
        try:
            parse_datetime(str(config["start_date"]))
        except ValueError:
            problems.append(f"start_date: {config['start_date']!r} is not an ISO 8601 date-time")
    return problems
