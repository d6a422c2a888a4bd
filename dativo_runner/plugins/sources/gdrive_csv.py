"""The ``gdrive_csv`` source: tap-gdrive-csv config from a job's ``source.files``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dativo_runner.plugins.base import SourceOption
from dativo_runner.plugins.sources.api_common import API_OPTIONS
from dativo_runner.plugins.sources.google_common import GoogleObjectSource

if TYPE_CHECKING:
    from dativo_runner.drafts import DraftOptions
    from dativo_runner.job_config import Job

_FILE_DEFAULTS = ("delimiter", "encoding", "header", "quotechar", "null_values", "skip_rows", "name_pattern")


class GDriveCsvSource(GoogleObjectSource):
    """CSV files of Google Drive folders, typed by the asset schema, incremental on modifiedTime."""

    entries_setting = "files"
    connector = "gdrive_csv"
    job_schema = "sources/gdrive_csv"
    cli_options = (
        *API_OPTIONS,
        SourceOption("--folder-id", "the Drive folder's id"),
        SourceOption("--name-pattern", "file names to read (default *.csv)"),
    )
    incremental_settings = ("start_date",)

    def entries(self, job: Job) -> list[dict[str, Any]]:
        """Each folder entry with the block's CSV options as its defaults."""
        source = job.source
        defaults = {k: source[k] for k in _FILE_DEFAULTS if k in source}
        return [{**defaults, "object": job.asset.object, **entry} for entry in source.get("files") or []]

    def plan_config(self, job: Job) -> dict[str, Any]:
        """Credentials, folders with their CSV options, schema and key of the asset's object."""
        config = super().plan_config(job)
        if "page_size" in job.source:
            config["page_size"] = job.source["page_size"]
        return config

    def metadata_properties(self) -> dict[str, Any]:
        """The Drive file's id, name, the row's line and the file's modifiedTime (``_sdc_``)."""
        from tap_gdrive_csv.streams import METADATA_PROPERTIES

        return dict(METADATA_PROPERTIES)

    def draft_source(self, options: DraftOptions) -> dict[str, Any]:
        """The object, ``api_url`` / ``secret``, and ``files: [{folder_id, name_pattern}]``."""
        block = super().draft_source(options)
        folder_id, name_pattern = options.get("folder_id"), options.get("name_pattern")
        if folder_id:
            entry = {"folder_id": folder_id}
            if name_pattern:
                entry["name_pattern"] = name_pattern
            block["files"] = [entry]
        return block
