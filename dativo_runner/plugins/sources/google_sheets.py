"""The ``google_sheets`` source: tap-google-sheets config from a job's ``source.sheets``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dativo_runner.plugins.base import SourceOption
from dativo_runner.plugins.sources.api_common import API_OPTIONS
from dativo_runner.plugins.sources.google_common import GoogleObjectSource

if TYPE_CHECKING:
    from dativo_runner.drafts import DraftOptions
    from dativo_runner.job_config import Job


class GoogleSheetsSource(GoogleObjectSource):
    """Ranges of Google spreadsheets, typed by the asset schema; a spreadsheet is read again
    only when its Drive modifiedTime changed."""

    entries_setting = "sheets"
    connector = "google_sheets"
    job_schema = "sources/google_sheets"
    cli_options = (
        *API_OPTIONS,
        SourceOption("--spreadsheet-id", "the spreadsheet's id"),
        SourceOption("--range", "a tab title or an A1 range"),
    )

    def plan_config(self, job: Job) -> dict[str, Any]:
        """Credentials, ranges, ``drive_api_url``, schema and key of the asset's object."""
        config = super().plan_config(job)
        if job.source.get("drive_api_url"):
            config["drive_api_url"] = job.source["drive_api_url"]
        return config

    def metadata_properties(self) -> dict[str, Any]:
        """The range read, the spreadsheet's title, the sheet row and its modifiedTime (``_sdc_``)."""
        from tap_google_sheets.streams import METADATA_PROPERTIES

        return dict(METADATA_PROPERTIES)

    def draft_source(self, options: DraftOptions) -> dict[str, Any]:
        """The object, ``api_url`` (also the Drive API's) / ``secret``, and ``sheets: [{spreadsheet_id,
        range}]``."""
        block = super().draft_source(options)
        api_url, spreadsheet_id, cells = (
            options.get("api_url"),
            options.get("spreadsheet_id"),
            options.get("range"),
        )
        if api_url:
            block["drive_api_url"] = api_url
        if spreadsheet_id:
            entry = {"spreadsheet_id": spreadsheet_id}
            if cells:
                entry["range"] = cells
            block["sheets"] = [entry]
        return block
