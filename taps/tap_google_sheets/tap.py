"""TapGoogleSheets: the singer-sdk Tap class and the `tap-google-sheets` console script."""

from __future__ import annotations

from typing import Any

from singer_sdk import Stream

from dativo_singer.cli import run_tap_cli
from dativo_singer.errors import FatalError
from dativo_singer.file_tap import FileTap
from tap_google_sheets.cells import cell_text
from tap_google_sheets.settings import CONFIG_SCHEMA, config_problems
from tap_google_sheets.streams import SheetRange, SheetsStream


class TapGoogleSheets(FileTap):
    """Reads ranges of Google spreadsheets; one stream per configured object, a spreadsheet
    read again only when its Drive modifiedTime changed."""

    name = "tap-google-sheets"
    package_name = "dativo-tap-google-sheets"  # its distribution: --version
    config_jsonschema = CONFIG_SCHEMA
    config_problems = staticmethod(config_problems)

    def _ranges_by_object(self) -> dict[str, list[SheetRange]]:
        grouped: dict[str, list[SheetRange]] = {}
        for index, entry in enumerate(self.config["sheets"]):
            sheet = SheetRange(entry["object"], entry["spreadsheet_id"], entry["range"], index)
            grouped.setdefault(sheet.object, []).append(sheet)
        return grouped

    def _infer_schema(self, name: str, ranges: list[SheetRange]) -> dict[str, Any]:
        """Every header cell of the first range a nullable string column."""
        probe = SheetsStream(self, name, {"type": "object", "properties": {}}, ranges, [])
        [value_range] = probe.values(ranges[0].spreadsheet_id, ranges[:1])
        header = (value_range.get("values") or [[]])[0]
        names = [cell_text(c) for c in header if c not in (None, "")]
        if not names:
            raise FatalError(f"{ranges[0].setting}.range: {ranges[0].range!r} has no header row; "
                             f"give schemas.{name}")
        return {"type": "object", "properties": {n: {"type": ["string", "null"]} for n in names}}

    def discover_streams(self) -> list[Stream]:
        """One SheetsStream per object named in `sheets`."""
        schemas: dict[str, Any] = self.config.get("schemas") or {}
        keys: dict[str, list[str]] = self.config.get("key_properties") or {}
        streams: list[Stream] = []
        for name, ranges in self._ranges_by_object().items():
            schema = schemas.get(name) or self._infer_schema(name, ranges)
            key = list(keys.get(name) or [])
            unknown = [k for k in key if k not in schema.get("properties", {})]
            if unknown:
                raise FatalError(f"key_properties.{name}: {unknown[0]!r} is not a column of {name!r}")
            streams.append(SheetsStream(self, name, schema, ranges, key))
        return streams


def main() -> None:
    """Console script `tap-google-sheets`."""
    run_tap_cli("tap-google-sheets", TapGoogleSheets)
