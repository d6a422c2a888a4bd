"""Maintenance of a job's objects: files of killed runs that no manifest names.

A run writes its data files first and the manifest naming them last; a run killed in between
leaves files no reader sees. They are reported, and removed unless ``--dry-run``, once older
than ``--older-than-hours`` (younger ones may belong to a run still in progress).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dativo_runner.plugins.base import MaintainOptions

if TYPE_CHECKING:
    from target_objects.settings import ObjectSettings
    from target_objects.stores import ObjectStore, StoredObject


@dataclass
class OrphanReport:
    """What `dativo maintain` found (and did) under one stream root."""

    job: str
    location: str
    dry_run: bool
    older_than_hours: float
    manifests: int = 0
    files: int = 0
    orphans: list[str] = field(default_factory=list)
    orphan_bytes: int = 0
    recent_orphans: int = 0
    deleted: int = 0
    seconds: float = 0.0

    def as_json(self) -> str:
        """One JSON object."""
        data = {k: v for k, v in self.__dict__.items()}
        data["seconds"] = round(self.seconds, 3)
        return json.dumps(data)

    def as_text(self) -> str:
        """A few lines."""
        verb = "dry run (nothing changed)" if self.dry_run else "done"
        lines = [
            f"{self.location} ({self.job}): maintenance {verb} in {self.seconds:.2f}s",
            f"  {self.manifests:,} manifests name {self.files:,} data files",
        ]
        if not self.orphans and not self.recent_orphans:
            lines.append("  orphan files: none (every data file is named by a manifest)")
        if self.orphans:
            action = "would be deleted" if self.dry_run else f"deleted {self.deleted:,}"
            lines.append(
                f"  orphan files: {len(self.orphans):,} ({self.orphan_bytes:,} bytes) named by no "
                f"manifest, older than {self.older_than_hours:g}h: {action}"
            )
            lines.extend(f"    {url}" for url in self.orphans)
        if self.recent_orphans:
            lines.append(
                f"  {self.recent_orphans:,} younger file(s) named by no manifest kept (a run may be "
                "writing them; see --older-than-hours)"
            )
        lines.append("  retention and compaction: not done for raw objects")
        return "\n".join(lines)


def find_orphans(
    store: ObjectStore, settings: ObjectSettings, stream: str
) -> tuple[int, int, list[StoredObject]]:
    """Manifests, files they name, and the data objects under the stream root no manifest names."""
    from target_objects.manifest import manifest_keys, read_manifest

    prefix = settings.manifest_prefix(stream)
    manifests = manifest_keys(store, prefix)
    named = {f["key"] for key in manifests for f in read_manifest(store, key)["files"]}
    found = store.list_objects(settings.stream_root(stream) + "/")
    # A stream root nested below this one (another prefix, maybe another tenant's) keeps its
    # own manifests: none of its files is this stream's orphan.
    nested = {o.key.split("/_manifests/")[0] + "/" for o in found if "/_manifests/" in o.key}
    nested.discard(prefix.removesuffix("_manifests/"))
    orphans = [
        o
        for o in found
        if not o.key.startswith(prefix) and o.key not in named and not o.key.startswith(tuple(nested))
    ]
    return len(manifests), len(named), orphans


def remove_orphans(
    job_file: str, store: ObjectStore, settings: ObjectSettings, stream: str, options: MaintainOptions
) -> OrphanReport:
    """Report orphan files; delete those old enough unless it is a dry run."""
    started = time.monotonic()
    report = OrphanReport(
        job=job_file,
        location=store.url(settings.stream_root(stream) + "/"),
        dry_run=options.dry_run,
        older_than_hours=options.older_than_hours,
    )
    if "expire" in options.steps:
        report.manifests, report.files, orphans = find_orphans(store, settings, stream)
        cutoff = time.time() - options.older_than_hours * 3600
        old = [o for o in orphans if o.modified <= cutoff]
        report.recent_orphans = len(orphans) - len(old)
        report.orphans = [store.url(o.key) for o in old]
        report.orphan_bytes = sum(o.size for o in old)
        if old and not options.dry_run:
            store.delete([o.key for o in old])
            report.deleted = len(old)
    report.seconds = time.monotonic() - started
    return report
