"""SheetsStream: one Singer stream per object, read from ranges of Google spreadsheets."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk import Tap
from singer_sdk.helpers.conform import TypeConformanceLevel
from tap_csv.header import match_name

from dativo_singer.errors import DataValueError, FatalError
from dativo_singer.google_auth import DRIVE_METADATA_READONLY, SHEETS_READONLY
from dativo_singer.google_rest import GoogleAPIStream
from dativo_singer.json_types import property_types
from dativo_singer.source_files import METADATA_PROPERTIES as FILE_METADATA
from dativo_singer.source_files import SOURCE_FILE, SOURCE_FILE_NAME, SOURCE_LINE, SOURCE_VERSION
from tap_google_sheets.cells import cell_converter, cell_text

RANGES_STATE_KEY = "ranges"
# The range read (``<spreadsheet id>/<range>``), the spreadsheet's title, the sheet row and the
# spreadsheet's modifiedTime as content version: target-iceberg replaces a range's earlier rows
# when the spreadsheet changed (see docs/GOOGLE.md).
METADATA_PROPERTIES: dict[str, Any] = {**FILE_METADATA, SOURCE_FILE_NAME: {"type": ["string", "null"]}}
VALUE_PARAMS = {
    "valueRenderOption": "UNFORMATTED_VALUE",
    "dateTimeRenderOption": "FORMATTED_STRING",
    "majorDimension": "ROWS",
}


@dataclass(frozen=True)
class SheetRange:
    """One `sheets` entry."""

    object: str
    spreadsheet_id: str
    range: str
    index: int

    @property
    def key(self) -> str:
        """``_sdc_source_file`` and the state key: ``<spreadsheet id>/<range>``."""
        return f"{self.spreadsheet_id}/{self.range}"

    @property
    def setting(self) -> str:
        return f"sheets[{self.index}]"


def first_row(a1: str) -> int:
    """The sheet row a returned range starts on (``'Vendors'!A3:F9`` → 3; whole columns → 1)."""
    cells = a1.rpartition("!")[2]
    match = re.match(r"[A-Za-z]*(\d+)", cells)
    return int(match.group(1)) if match else 1


class SheetsStream(GoogleAPIStream):
    """Rows of the configured ranges: the first row names the columns, the cells are typed by
    the object's JSON Schema and empty or missing trailing cells are nulls. A spreadsheet whose
    Drive ``modifiedTime`` did not change since it was last read whole is not read again."""

    service_name = "Google Sheets"
    scopes = (SHEETS_READONLY, DRIVE_METADATA_READONLY)
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # cells are typed here

    def __init__(
        self, tap: Tap, name: str, schema: dict[str, Any], ranges: list[SheetRange], key_properties: list[str]
    ) -> None:
        self._ranges = ranges
        schema = {**schema, "properties": {**schema.get("properties", {}), **METADATA_PROPERTIES}}
        super().__init__(tap=tap, schema=schema, name=name)
        self.primary_keys = key_properties

    @property
    def emit_activate_version_messages(self) -> bool:
        """Never: unchanged spreadsheets are not read again, their rows must stay."""
        return False

    def spreadsheet_file(self, sheet: SheetRange) -> dict[str, Any]:
        """Drive's ``files.get`` of the spreadsheet: id, name, modifiedTime."""
        self.resource = f"spreadsheet {sheet.spreadsheet_id} ({sheet.setting})"
        url = f"{str(self.config['drive_api_url']).rstrip('/')}/drive/v3/files/{sheet.spreadsheet_id}"
        params = {"fields": "id, name, modifiedTime", "supportsAllDrives": "true"}
        return dict(self.get(url, params).json())

    def values(self, spreadsheet_id: str, ranges: list[SheetRange]) -> list[dict[str, Any]]:
        """The value ranges of one spreadsheet: ``values.get`` for one, ``values:batchGet`` for several."""
        names = ", ".join(r.range for r in ranges)
        self.resource = f"spreadsheet {spreadsheet_id} range {names} ({', '.join(r.setting for r in ranges)})"
        base = f"{self.url_base}/v4/spreadsheets/{spreadsheet_id}"
        if len(ranges) == 1:
            url = f"{base}/values/{urllib.parse.quote(ranges[0].range, safe='')}"
            return [dict(self.get(url, VALUE_PARAMS).json())]
        params = {**VALUE_PARAMS, "ranges": [r.range for r in ranges]}
        body = self.get(f"{base}/values:batchGet", params).json()
        return list(body.get("valueRanges") or [])

    def get_records(self, context: Mapping[str, Any] | None) -> Iterable[dict[str, Any]]:
        """Rows of every range whose spreadsheet changed (or was partly read) since the last run."""
        state: dict[str, Any] = self.stream_state.setdefault(RANGES_STATE_KEY, {})
        by_sheet: dict[str, list[SheetRange]] = {}
        for sheet in self._ranges:
            by_sheet.setdefault(sheet.spreadsheet_id, []).append(sheet)
        for spreadsheet_id, ranges in by_sheet.items():
            meta = self.spreadsheet_file(ranges[0])
            modified, title = str(meta.get("modifiedTime")), str(meta.get("name") or "")
            todo = []
            for sheet in ranges:
                entry = state.get(sheet.key) or {}
                if entry.get("modifiedTime") == modified and entry.get("done"):
                    self.logger.info("Skipping unchanged %s (modified %s)", sheet.key, modified)
                    continue
                same = entry.get("modifiedTime") == modified
                rows = int(entry.get("rows") or 0) if same else 0
                state[sheet.key] = {"modifiedTime": modified, "rows": rows, "done": False}
                todo.append(sheet)
            if not todo:
                continue
            for sheet, value_range in zip(todo, self.values(spreadsheet_id, todo), strict=True):
                entry = state[sheet.key]
                self.logger.info("Reading %s of %r (modified %s)", sheet.key, title, modified)
                for index, record in enumerate(self._records(sheet, value_range)):
                    if index < entry["rows"]:
                        continue
                    record.update({SOURCE_FILE: sheet.key, SOURCE_FILE_NAME: title, SOURCE_VERSION: modified})
                    entry["rows"] = index + 1
                    yield record
                entry["done"] = True

    def _columns(self, sheet: SheetRange, header: list[Any]) -> list[tuple[str | None, Any, bool]]:
        properties = {k: v for k, v in self.schema["properties"].items() if k not in METADATA_PROPERTIES}
        required = set(self.schema.get("required") or ())
        columns: list[tuple[str | None, Any, bool]] = []
        for cell in header:
            name = cell_text(cell) if cell not in (None, "") else ""
            matched = match_name(name, list(properties)) if name else None
            if matched is None:
                if name:
                    self.logger.warning("Column %r of %s is not in the schema; ignored", name, sheet.key)
                columns.append((None, None, True))
                continue
            nullable = "null" in property_types(properties[matched]) and matched not in required
            columns.append((matched, cell_converter(properties[matched]), nullable))
        found = {c[0] for c in columns if c[0]}
        missing = [name for name in sorted(required) if name not in found]
        if missing:
            raise FatalError(
                f"{self.resource}: required column(s) {missing} of {self.name!r} missing "
                f"from the header row {[cell_text(c) for c in header]}"
            )
        if properties and not found:
            raise FatalError(
                f"{self.resource}: none of the header row's cells "
                f"{[cell_text(c) for c in header][:6]} is a column of {self.name!r}"
            )
        return columns

    def _records(self, sheet: SheetRange, value_range: dict[str, Any]) -> Iterator[dict[str, Any]]:
        rows: list[list[Any]] = value_range.get("values") or []
        if not rows:
            self.logger.warning("%s is empty: no header row", sheet.key)
            return
        start = first_row(str(value_range.get("range") or ""))
        columns = self._columns(sheet, rows[0])
        pass_invalid = self.config.get("on_invalid_value") == "pass"
        where = f"spreadsheet {sheet.spreadsheet_id} range {sheet.range}"
        for offset, row in enumerate(rows[1:], 1):
            if not any(cell not in (None, "") for cell in row):
                continue  # an empty row inside the range
            line = start + offset
            record: dict[str, Any] = {SOURCE_LINE: line}
            for position, (name, convert, nullable) in enumerate(columns):
                if name is None:
                    continue
                cell = row[position] if position < len(row) else None
                if cell is None or cell == "":
                    if not nullable and not pass_invalid:
                        raise DataValueError(where, line, name, "empty value in required column")
                    record[name] = None
                    continue
                try:
                    record[name] = convert(cell)
                except ValueError as exc:
                    if not pass_invalid:
                        raise DataValueError(where, line, name, str(exc)) from None
                    record[name] = cell_text(cell)
            yield record
