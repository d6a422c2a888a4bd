"""The ``markdown_kv`` source: tap-markdown-kv config from a job's ``source`` block and asset.

The storage pattern is the asset's: a job may name it (``source.storage`` or per file), and
otherwise it follows from the asset's columns (docs/MARKDOWN_KV_STORAGE.md). Either way the
asset must have the pattern's shape, which `dativo validate` checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dativo_runner.errors import ConfigError, Problem
from dativo_runner.plugins.base import SourceOption, SourcePlugin
from dativo_runner.plugins.sources.file_slices import check_slices, sliced_files
from dativo_runner.runner_config import allowed_paths

if TYPE_CHECKING:
    from dativo_runner.drafts import DraftOptions
    from dativo_runner.job_config import Job

_S3_SETTINGS = {
    "endpoint": "s3_endpoint_url",
    "access_key_id": "s3_access_key_id",
    "secret_access_key": "s3_secret_access_key",
    "region": "s3_region",
}
OBJECT_TARGET = "target-objects"


def _types(prop: dict[str, Any]) -> tuple[set[str], str | None]:
    declared = prop.get("type", [])
    types = {declared} if isinstance(declared, str) else set(declared)
    return types - {"null"}, prop.get("format")


def storage_of_asset(columns: dict[str, Any]) -> str:
    """The pattern an asset's columns describe: the fixed shapes by their exact column names, a
    ``markdown`` column beside others is hybrid, anything else document."""
    from tap_markdown_kv.storage import FIXED_PROPERTIES, MARKDOWN_COLUMN

    for storage, properties in FIXED_PROPERTIES.items():
        if set(columns) == set(properties):
            return storage
    return "hybrid" if MARKDOWN_COLUMN in columns and len(columns) > 1 else "document"


def _shape_problems(job: Job, storage: str, field: str) -> list[Problem]:
    """The asset has the named pattern's columns, with its types."""
    from tap_markdown_kv.storage import FIXED_PROPERTIES, MARKDOWN_COLUMN

    columns = job.asset.json_schema()["properties"]
    asset = job.asset.file
    if storage in FIXED_PROPERTIES:
        expected = FIXED_PROPERTIES[storage]
        if set(columns) != set(expected):
            return [
                Problem(
                    job.file,
                    field,
                    f"storage {storage!r} needs an asset with exactly the columns {list(expected)}; "
                    f"{asset} has {list(columns)}",
                )
            ]
        for name, prop in expected.items():
            if _types(columns[name]) != _types(prop):
                return [
                    Problem(asset, f"asset.schema.{name}", f"must be {_asset_type(prop)} for {storage!r}")
                ]
    if storage == "hybrid" and _types(columns.get(MARKDOWN_COLUMN, {})) != ({"string"}, None):
        return [Problem(asset, "asset.schema", f"storage 'hybrid' needs a string column {MARKDOWN_COLUMN!r}")]
    if storage == "raw" and job.target_entry.executable != OBJECT_TARGET:
        return [
            Problem(
                job.file,
                field,
                "storage 'raw' copies files unchanged into a bucket: use an object-store target "
                f"(one run by {OBJECT_TARGET}), not {job.target_entry.name!r}",
            )
        ]
    return []


def _asset_type(prop: dict[str, Any]) -> str:
    types, fmt = _types(prop)
    return {"date-time": "timestamp"}.get(fmt or "", "integer" if "integer" in types else "string")


class MarkdownKVSource(SourcePlugin):
    """Markdown-KV documents from local paths or S3, in the asset's storage pattern."""

    applies_column_policies = True  # its tap is a dativo_singer PolicyTap

    job_schema = "sources/markdown_kv"
    cli_options = (SourceOption("--path", "file, folder or glob (relative to the home)"),)
    partition_kinds = ("path",)

    def _files(self, job: Job) -> tuple[list[dict[str, Any]], list[Problem]]:
        from tap_markdown_kv.stores import LocalStore

        source = job.source
        columns = job.asset.json_schema()["properties"]
        files = source.get("files") or []
        problems: list[Problem] = []
        if not files:
            problems.append(Problem(job.file, "source.files", "is required for the markdown_kv connector"))
        default = source.get("storage")
        planned = []
        allowed = allowed_paths(job.home)
        store = LocalStore(str(job.home.root))
        for given, where in sliced_files(job, files):
            entry = {"object": job.asset.object, **given}
            if entry["object"] != job.asset.object:
                problems.append(
                    Problem(job.file, f"{where}.object", f"is not the asset's object {job.asset.object!r}")
                )
            entry["storage"] = given.get("storage") or default or storage_of_asset(columns)
            field = f"{where}.storage" if given.get("storage") else "source.storage"
            problems.extend(_shape_problems(job, entry["storage"], field))
            if not entry["path"].startswith("s3://"):
                problems.extend(self._local_problems(job, store, entry["path"], f"{where}.path", allowed))
            planned.append(entry)
        return planned, _unique(problems)

    @staticmethod
    def _local_problems(job: Job, store: Any, path: str, field: str, allowed: list[Path]) -> list[Problem]:
        matched = [Path(f.key) for f in store.find(path, field)]
        if not matched:
            return [Problem(job.file, field, f"no file matches {path!r}")]
        outside = [p for p in matched if job.home.outside(p, allowed)]
        if outside:
            return [
                Problem(
                    job.file,
                    field,
                    f"{path!r} reaches {len(outside)} file(s) outside the project home (first: "
                    f"{job.home.display(outside[0])}); list its folder under runner.allowed_paths in "
                    f"{job.home.display(job.home.runner_config)} to read it",
                )
            ]
        return []

    def check(self, job: Job) -> list[Problem]:
        """Every file entry names the asset's object, matches a file (local paths; ``s3://``
        paths are listed when the tap runs, validation stays offline) and the asset has the
        storage pattern's shape; so does each path partition."""
        return check_slices(job, lambda one: self._files(one)[1])

    def plan_config(self, job: Job) -> dict[str, Any]:
        """Files with their storage, the asset's schema and key, the S3 connection."""
        files, problems = self._files(job)
        if problems:
            raise ConfigError(problems)
        from tap_markdown_kv.storage import FIXED_KEYS

        key = list(job.asset.primary_key) or FIXED_KEYS.get(files[0]["storage"], [])
        config: dict[str, Any] = {
            "files": files,
            "schemas": {job.asset.object: job.asset.json_schema()},
            "key_properties": {job.asset.object: key},
            "base_dir": str(job.home.root),
            "on_invalid_value": "pass",  # the target dead-letters a value that does not parse
        }
        if files[0]["storage"] == "hybrid":
            config["unrendered_columns"] = {job.asset.object: _protected_columns(job)}
        s3 = (job.source.get("connection") or {}).get("s3") or {}
        config.update({setting: s3[name] for name, setting in _S3_SETTINGS.items() if s3.get(name)})
        return config

    def nothing_new(self, job: Job, config: dict[str, Any], state: dict[str, Any] | None) -> bool:
        """Every local file the tap would list was read to the end under ``state`` and has the
        size and modification time kept there: the tap's own test for skipping a file without
        reading it (taps/tap_markdown_kv/streams.py). ``s3://`` paths, a first run, a state
        this check does not read, or no file at all start the run as usual."""
        from tap_markdown_kv.stores import LocalStore

        from dativo_singer.source_files import FILES_STATE_KEY

        stream_state = ((state or {}).get("bookmarks") or {}).get(job.asset.object) or {}
        known = stream_state.get(FILES_STATE_KEY) or {}
        if not known or set(stream_state) - {FILES_STATE_KEY}:
            return False
        store = LocalStore(config.get("base_dir"))
        checked = 0
        for index, entry in enumerate(config.get("files") or []):
            path = str(entry["path"])
            found = [] if path.startswith("s3://") else store.find(path, f"files[{index}].path")
            if not found:
                return False  # S3 is listed by the tap; a path matching nothing, the tap reports
            for file in found:
                kept = known.get(file.key) or {}
                current = file.fingerprint()
                if not kept.get("done") or {k: kept.get(k) for k in current} != current:
                    return False
                checked += 1
        return checked > 0

    def draft_source(self, options: DraftOptions) -> dict[str, Any]:
        """The object and ``files: [{path}]`` (a folder, file or glob, local or ``s3://``)."""
        block = super().draft_source(options)
        if options.get("path"):
            block["files"] = [{"path": options.get("path")}]
        return block

    def metadata_properties(self) -> dict[str, Any]:
        """``_sdc_source_file``, ``_sdc_source_lineno`` and ``_sdc_source_version``."""
        from dativo_singer.source_files import METADATA_PROPERTIES

        return dict(METADATA_PROPERTIES)


def _protected_columns(job: Job) -> list[str]:
    """Columns a policy hashes, masks or drops: their clear values stay out of hybrid Markdown."""
    from dativo_runner.policy import column_policies, load_policy

    policies = column_policies(job.asset, load_policy(job.home), {}, job.tenant_id)
    # a nested path (profile.email, contacts[].email) keeps its whole top-level column out
    protected = [name for name, action in policies.actions.items() if action != "allow"]
    return sorted({name.split(".")[0].removesuffix("[]") for name in protected})


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: list[Problem] = []
    for problem in problems:
        if problem not in seen:
            seen.append(problem)
    return seen
