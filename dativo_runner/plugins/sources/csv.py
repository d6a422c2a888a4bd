"""The ``csv`` source: tap-csv config from a job's ``source.files``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.plugins.base import SourceOption, SourcePlugin
from dativo_runner.plugins.sources.file_slices import check_slices, sliced_files
from dativo_runner.runner_config import allowed_paths

if TYPE_CHECKING:
    from dativo_runner.discovery import DiscoveredStream
    from dativo_runner.drafts import DraftOptions
    from dativo_runner.job_config import Job

# Rows per BATCH file: large enough that per-file costs vanish, small enough to bound memory.
BATCH_CONFIG: dict[str, Any] = {
    "encoding": {"format": "parquet", "compression": "snappy"},
    "batch_size": 250_000,
}
_FILE_DEFAULTS = ("delimiter", "encoding", "header", "quotechar", "null_values", "skip_rows")


class CsvSource(SourcePlugin):
    """Local CSV files, typed by the asset schema, incremental per file."""

    applies_column_policies = True  # its tap is a dativo_singer PolicyTap

    job_schema = "sources/csv"
    cli_options = (SourceOption("--path", "file, folder or glob (relative to the home)"),)
    partition_kinds = ("path",)

    def _files(self, job: Job) -> tuple[list[dict[str, Any]], list[Problem]]:
        from dativo_singer.source_files import resolve_paths

        source = job.source
        files = source.get("files") or []
        problems: list[Problem] = []
        if not files:
            problems.append(Problem(job.file, "source.files", "is required for the csv connector"))
        defaults = {k: source[k] for k in _FILE_DEFAULTS if k in source}
        planned = []
        allowed = allowed_paths(job.home)
        for entry, where in sliced_files(job, files):
            entry = {**defaults, "object": job.asset.object, **entry}
            if entry["object"] != job.asset.object:
                problems.append(
                    Problem(job.file, f"{where}.object", f"is not the asset's object {job.asset.object!r}")
                )
            field = f"{where}.path"
            matched = resolve_paths(entry["path"], str(job.home.root))
            if not matched:
                problems.append(Problem(job.file, field, f"no file matches {entry['path']!r}"))
            outside = [path for path in matched if job.home.outside(path, allowed)]
            if outside:
                problems.append(
                    Problem(
                        job.file,
                        field,
                        f"{entry['path']!r} reaches {len(outside)} file(s) outside the project home "
                        f"(first: {job.home.display(outside[0])}); list its folder under "
                        f"runner.allowed_paths in {job.home.display(job.home.runner_config)} to read it",
                    )
                )
            planned.append(entry)
        return planned, problems

    def check(self, job: Job) -> list[Problem]:
        """Every ``files`` entry (and path partition) names the asset's object and matches at
        least one file."""
        return check_slices(job, lambda one: self._files(one)[1])

    def plan_config(self, job: Job) -> dict[str, Any]:
        """Files, schema and key of the asset's object."""
        files, problems = self._files(job)
        if problems:
            raise ConfigError(problems)
        config: dict[str, Any] = {
            "files": files,
            "schemas": {job.asset.object: job.asset.json_schema()},
            "key_properties": {job.asset.object: list(job.asset.primary_key)},
            "base_dir": str(job.home.root),
            # Values that do not parse reach the target, which dead-letters the record with the reason.
            "on_invalid_value": "pass",
        }
        if job.source.get("fast_path", True) is not False:
            # The columnar fast path (docs/BATCH.md): Parquet BATCH files; the runner puts them
            # in the run's folder (storage root) and removes them with it.
            config["batch_config"] = dict(BATCH_CONFIG)
            # The targets keep no line numbers: files without them can be added to an Iceberg
            # table as they are (rows sent as RECORD messages still carry them to dead letters).
            config["batch_line_numbers"] = False
        return config

    def nothing_new(self, job: Job, config: dict[str, Any], state: dict[str, Any] | None) -> bool:
        """Every file the tap would list was read to the end under ``state`` and is unchanged
        (size, modification time and content digest, the checks tap-csv makes itself); a new,
        renamed, grown or edited file, or no file at all, starts the run as usual."""
        from dativo_singer.source_files import FILES_STATE_KEY, known_and_unchanged, resolve_paths

        stream_state = ((state or {}).get("bookmarks") or {}).get(job.asset.object) or {}
        known = stream_state.get(FILES_STATE_KEY) or {}
        if not known or set(stream_state) - {FILES_STATE_KEY}:
            return False  # a first run, or a state this check does not read
        checked = 0
        for entry in config.get("files") or []:
            paths = resolve_paths(str(entry["path"]), config.get("base_dir"))
            if not paths:
                return False  # the tap reports it
            for path in paths:
                if not known_and_unchanged(known.get(str(path.resolve())), path):
                    return False
                checked += 1
        return checked > 0

    def metadata_properties(self) -> dict[str, Any]:
        """``_sdc_source_file`` and ``_sdc_source_lineno``."""
        from dativo_singer.source_files import METADATA_PROPERTIES

        return dict(METADATA_PROPERTIES)

    def discover(self, job: Job) -> list[DiscoveredStream]:
        """The tap's columns (the first file's header), typed from the file's first rows; a
        first ``id`` / ``*_id`` column whose sampled values are distinct is proposed as key."""
        from dataclasses import replace
        from pathlib import Path

        from dativo_runner.discovery import DiscoveredField
        from dativo_runner.plugins.sources.csv_sample import (
            column_types,
            pii_kinds,
            sample_columns,
            unique_first_column,
        )
        from dativo_singer.pii_values import pii_type
        from dativo_singer.source_files import resolve_paths

        files, _ = self._files(job)
        typed = []
        for stream in super().discover(job):
            header: list[str] = []
            rows: list[list[str]] = []
            for entry in (e for e in files if e["object"] == stream.stream):
                paths = resolve_paths(entry["path"], str(job.home.root))
                if paths:
                    header, rows = sample_columns(Path(paths[0]), entry)
                    break
            types = column_types(header, rows)
            kinds = pii_kinds(header, rows)
            fields = tuple(
                DiscoveredField(
                    f.name, pii_type(types.get(f.name, f.type), kinds.get(f.name)), pii=kinds.get(f.name)
                )
                for f in stream.fields
            )
            key = unique_first_column(header, rows)
            cursors = tuple(f.name for f in fields if f.type in ("timestamp", "date"))
            typed.append(
                replace(
                    stream,
                    fields=fields,
                    key_properties=(key,) if key else (),
                    replication_key_candidates=cursors,
                    sampled_rows=len(rows),
                    notes=(),  # typed from the sample
                )
            )
        return typed

    def draft_source(self, options: DraftOptions) -> dict[str, Any]:
        """The object and ``files: [{path}]`` (``--path``, relative to the project home)."""
        block = super().draft_source(options)
        path = options.get("path")
        if path:
            block["files"] = (
                [{"object": options.object, "path": path}] if options.object else [{"path": path}]
            )
        return block
