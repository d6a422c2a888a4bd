"""tap-google-sheets settings: the config schema (shown by `--about`) and the start-up checks."""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th
from tap_csv.settings import _object_schema_problems as object_schema_problems

from dativo_singer.google_auth import AUTH_PROPERTIES, credentials_problems
from dativo_singer.rest import rest_properties

DEFAULT_API_URL = "https://sheets.googleapis.com"
DEFAULT_DRIVE_API_URL = "https://www.googleapis.com"
# Sheets allows 60 read requests per minute per user.
DEFAULT_REQUESTS_PER_SECOND = 1.0

SHEET_ENTRY = th.ObjectType(
    th.Property("object", th.StringType, required=True,
                description="Stream name; several entries may name the same object (one stream)"),
    th.Property("spreadsheet_id", th.StringType, required=True,
                description="The spreadsheet's id (from its URL: /spreadsheets/d/<id>/)"),
    th.Property("range", th.StringType, required=True,
                description="A tab title (`Vendors`) or an A1 range (`'Vendor list'!A1:F`); its "
                "first row is the header"),
)

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    *AUTH_PROPERTIES,
    th.Property("sheets", th.ArrayType(SHEET_ENTRY), required=True,
                description="The ranges to read, each naming its object (stream)"),
    th.Property("schemas", th.ObjectType(additional_properties=True),
                description="JSON Schema per object, which types the cells; without one, every "
                "header column is a nullable string"),
    th.Property("key_properties", th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
                description="Primary key columns per object"),
    th.Property("drive_api_url", th.StringType, default=DEFAULT_DRIVE_API_URL,
                description="Base URL of the Drive API, asked for each spreadsheet's modifiedTime"),
    th.Property("on_invalid_value", th.StringType, allowed_values=["fail", "pass"], default="fail",
                description="fail: stop naming spreadsheet, row and column; pass: emit the cell as "
                "text and let the target reject (dead-letter) the record"),
    *rest_properties(DEFAULT_API_URL, DEFAULT_REQUESTS_PER_SECOND),
).to_dict()


def config_problems(config: dict[str, Any]) -> list[str]:
    """Every problem of a tap-google-sheets config, each one ``setting: what is wrong``."""
    problems = credentials_problems(config)
    sheets = config.get("sheets")
    if not isinstance(sheets, list) or not sheets:
        problems.append("sheets: is required: a list of {object, spreadsheet_id, range} entries")
        sheets = []
    for index, entry in enumerate(sheets):
        where = f"sheets[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected an object with object, spreadsheet_id and range")
            continue
        for key in ("object", "spreadsheet_id", "range"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                problems.append(f"{where}.{key}: is required")
        unknown = sorted(set(entry) - {"object", "spreadsheet_id", "range"})
        if unknown:
            problems.append(f"{where}.{unknown[0]}: not a setting of tap-google-sheets")
    schemas = config.get("schemas")
    if isinstance(schemas, dict):
        for name, schema in schemas.items():
            problems += object_schema_problems(name, schema)
    return problems
