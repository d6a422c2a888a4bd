"""The ``gdrive_csv`` source: tap-gdrive-csv config from a job's ``source.files``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.plugins.base import SourceOption, SourcePlugin
from dativo_runner.plugins.sources.api_common import API_OPTIONS
from dativo_runner.plugins.sources.google_common import google_config, object_problems

if TYPE_CHECKING:
    from dativo_runner.drafts import DraftOptions
    from dativo_runner.job_config import Job

_FILE_DEFAULTS = ("delimiter", "encoding", "header", "quotechar", "null_values", "skip_rows", "name_pattern")


class GDriveCsvSource(SourcePlugin):
    """CSV files of Google Drive folders, typed by the asset schema, incremental on modifiedTime."""

    applies_column_policies = True  # its tap is a dativo_singer PolicyTap

    job_schema = "sources/gdrive_csv"
    cli_options = (
        *API_OPTIONS,
        SourceOption("--folder-id", "the Drive folder's id"),
        SourceOption("--name-pattern", "file names to read (default *.csv)"),
    )
    incremental_settings = ("start_date",)

    def _files(self, job: Job) -> list[dict[str, Any]]:
        source = job.source
        defaults = {k: source[k] for k in _FILE_DEFAULTS if k in source}
        return [{**defaults, "object": job.asset.object, **entry} for entry in source.get("files") or []]

    def check(self, job: Job) -> list[Problem]:
        """At least one folder; every entry names the asset's object. No network: validate
        works offline, and the key is only read by `dativo run`."""
        files = job.source.get("files") or []
        if not files:
            return [Problem(job.file, "source.files", "is required for the gdrive_csv connector")]
        return object_problems(job, files, "files")

    def plan_config(self, job: Job) -> dict[str, Any]:
        """Credentials, folders with their CSV options, schema and key of the asset's object."""
        problems = self.check(job)
        if problems:
            raise ConfigError(problems)
        config = google_config(job)
        config.update(
            files=self._files(job),
            schemas={job.asset.object: job.asset.json_schema()},
            key_properties={job.asset.object: list(job.asset.primary_key)},
            # Values that do not parse reach the target, which dead-letters the record with the reason.
            on_invalid_value="pass",
        )
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
