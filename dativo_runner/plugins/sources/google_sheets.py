"""The ``google_sheets`` source: tap-google-sheets config from a job's ``source.sheets``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.plugins.base import SourceOption, SourcePlugin
from dativo_runner.plugins.sources.api_common import API_OPTIONS
from dativo_runner.plugins.sources.google_common import google_config, object_problems

if TYPE_CHECKING:
    from dativo_runner.drafts import DraftOptions
    from dativo_runner.job_config import Job


class GoogleSheetsSource(SourcePlugin):
    """Ranges of Google spreadsheets, typed by the asset schema; a spreadsheet is read again
    only when its Drive modifiedTime changed."""

    applies_column_policies = True  # its tap is a dativo_singer PolicyTap

    job_schema = "sources/google_sheets"
    cli_options = (
        *API_OPTIONS,
        SourceOption("--spreadsheet-id", "the spreadsheet's id"),
        SourceOption("--range", "a tab title or an A1 range"),
    )

    def check(self, job: Job) -> list[Problem]:
        """At least one range; every entry names the asset's object (no network)."""
        sheets = job.source.get("sheets") or []
        if not sheets:
            return [Problem(job.file, "source.sheets", "is required for the google_sheets connector")]
        return object_problems(job, sheets, "sheets")

    def plan_config(self, job: Job) -> dict[str, Any]:
        """Credentials, ranges, ``drive_api_url``, schema and key of the asset's object."""
        problems = self.check(job)
        if problems:
            raise ConfigError(problems)
        config = google_config(job)
        config.update(
            sheets=[{"object": job.asset.object, **entry} for entry in job.source["sheets"]],
            schemas={job.asset.object: job.asset.json_schema()},
            key_properties={job.asset.object: list(job.asset.primary_key)},
            on_invalid_value="pass",
        )
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
