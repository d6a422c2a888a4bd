"""ObjectSink: one stream's aligned Arrow batches as data files, then one manifest per commit.

Buffering, conversion, policies and dead letters are ``dativo_singer.sink.ArrowSink``; this class
writes the files of a commit, then its manifest with the Singer state. The manifest is the
commit: STATE is emitted (by ``CommitAtStateTarget``) only after it is written.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pyarrow as pa

from dativo_singer.conversion import Rejected
from dativo_singer.errors import FatalError
from dativo_singer.sink import ArrowSink, Written
from target_objects import keys
from target_objects.files import write_data_files
from target_objects.formats import get_format
from target_objects.manifest import (
    CONTENT_TYPE,
    DataFile,
    bookmark_manifest,
    build_manifest,
    newest_manifest,
)
from target_objects.raw_objects import write_raw_objects
from target_objects.settings import ObjectSettings
from target_objects.stores import ObjectStore

_UNSET: Any = object()


def unify(chunks: list[pa.Table]) -> pa.Table:
    """Chunks as one table: columns added mid-stream are null before, numbers widen; a column
    whose type changed to one that does not widen becomes text."""
    try:
        return pa.concat_tables(chunks, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    types: dict[str, set[pa.DataType]] = {}
    for chunk in chunks:
        for f in chunk.schema:
            types.setdefault(f.name, set()).add(f.type)
    mixed = {name for name, seen in types.items() if len(seen - {pa.null()}) > 1}
    as_text = []
    for chunk in chunks:
        for name in mixed & set(chunk.column_names):
            index = chunk.column_names.index(name)
            chunk = chunk.set_column(index, name, chunk.column(index).cast(pa.string()))
        as_text.append(chunk)
    return pa.concat_tables(as_text, promote_options="permissive")


class ObjectSink(ArrowSink):
    """One stream → data files under ``<prefix>/<tenant>/<stream>/`` and its manifests."""

    _held_state: Any = _UNSET  # the state of the newest manifest, once known
    _newest_key: str | None = None
    _files_made = 0
    _commits = 0
    _table_version: int | None = None  # set by ACTIVATE_VERSION: this run replaces the stream
    _staged: tuple[DataFile, ...] = ()
    _staged_columns: pa.Schema | None = None

    @property
    def settings(self) -> ObjectSettings:
        """The target's checked settings."""
        return self.target.settings  # type: ignore[attr-defined]

    @property
    def store(self) -> ObjectStore:
        """The target's store."""
        return self.target.store  # type: ignore[attr-defined]

    @property
    def run_id(self) -> str:
        """This run's id (in every key it writes)."""
        return self.target.run_id  # type: ignore[attr-defined]

    @property
    def location(self) -> str:
        """The stream's root URL."""
        return self.store.url(self.settings.stream_root(self.stream_name) + "/")

    def align(self, chunks: list[pa.Table], rejected: list[Rejected]) -> pa.Table:
        """One table for the commit's files (types unified across a mid-stream SCHEMA)."""
        return unify(chunks)

    def _load_newest(self) -> None:
        if self._held_state is not _UNSET:
            return
        found = newest_manifest(self.store, self.settings.manifest_prefix(self.stream_name))
        owner = found[1].get("tenant") if found else None
        if owner and owner != self.settings.tenant:  # recorded ownership: checked before any write
            raise FatalError(
                f"{self.location} belongs to another tenant: tenant {self.settings.tenant!r} "
                "cannot write, replace or resume it"
            )
        self._newest_key = found[0] if found else None
        prefix, partition = self.settings.manifest_prefix(self.stream_name), self.settings.partition
        own = found[1] if found and found[1].get("partition") == partition else None
        if found and own is None:
            own = bookmark_manifest(self.store, prefix, partition, found)
        self._held_state = own.get("state") if own else None

    def _next_key(self) -> str:
        self._files_made += 1
        fmt = get_format(self.settings.format)
        return keys.data_key(
            self.settings.stream_root(self.stream_name),
            self.settings.key_template,
            stream=keys.stream_segment(self.stream_name),
            tenant=self.settings.tenant,
            run_id=self.run_id,
            n=self._files_made,
            ext=fmt.extension(self.settings.compression),
            now=dt.datetime.now(dt.timezone.utc),
        )

    @property
    def holds_state_back(self) -> bool:
        """True during a replace: its one manifest is written at end of input."""
        return self._table_version is not None

    def write(self, data: pa.Table, state: dict[str, Any] | None) -> Written:
        """The rows as data files, then the manifest naming them with ``state`` (during a
        replace the files are staged for the one manifest ``finish`` writes)."""
        self._load_newest()
        files = self._data_files(data)
        if self._table_version is not None:
            self._staged = (*self._staged, *files)
            self._staged_columns = data.schema
            return Written(data.num_rows, staged=True)
        return self._commit(files, data.schema, state)

    def finish(self, state: dict[str, Any] | None) -> Written | None:
        """End of input of a replace: one manifest naming every file of this read, replacing
        the earlier manifests' files (an empty read empties the stream)."""
        if self._table_version is None:
            return None
        self._load_newest()
        staged = list(self._staged)
        if not staged and self._newest_key is None:
            return None  # nothing to replace and nothing read
        written = self._commit(staged, self._staged_columns, state, self._table_version)
        self._table_version, self._staged = None, ()
        return written

    def _data_files(self, data: pa.Table) -> list[DataFile]:
        settings = self.settings
        if settings.format == "raw":
            root = settings.stream_root(self.stream_name)
            return write_raw_objects(data, root=root, store=self.store, metadata=settings.metadata)
        return write_data_files(
            data,
            fmt=get_format(settings.format).configured(settings.format_options),
            compression=settings.compression,
            max_rows=settings.file_max_rows,
            max_bytes=settings.file_max_bytes,
            store=self.store,
            next_key=self._next_key,
            metadata=settings.metadata,
        )

    def record_bookmark(self, state: dict[str, Any]) -> Written | None:
        """A manifest with no files carrying ``state``, unless the newest manifest already holds
        it. No manifest yet: nothing (objects are only made with rows)."""
        self._load_newest()
        if state == self._held_state:
            return None
        if self._newest_key is None:
            self.logger.info("No files of %s yet: the bookmark is not stored", self.stream_name)
            return None
        return self._commit([], None, state)

    def _commit(
        self,
        files: list[DataFile],
        columns: pa.Schema | None,
        state: dict[str, Any] | None,
        table_version: int | None = None,
    ) -> Written:
        settings = self.settings
        self._commits += 1
        stamp = keys.next_commit_time(self._newest_key)
        key = settings.manifest_prefix(self.stream_name) + keys.manifest_name(
            stamp, self.run_id, self._commits
        )
        manifest = build_manifest(
            stream=self.stream_name,
            tenant=settings.tenant,
            run_id=self.run_id,
            commit=self._commits,
            committed_at=stamp,
            file_format=settings.format,
            compression=settings.compression,
            files=files,
            schema=self.schema,
            columns=columns,
            key_properties=list(self.key_properties),
            state=state,
            metadata=settings.metadata,
            table_version=table_version,
            partition=settings.partition,
        )
        body = json.dumps(manifest, indent=1, sort_keys=False, default=str).encode()
        self.store.put_bytes(key, body, CONTENT_TYPE, settings.metadata)
        self._newest_key = key
        self._held_state = state
        return Written(sum(f.rows for f in files), metadata_location=self.store.url(key))

    def activate_version(self, new_version: int) -> None:
        """ACTIVATE_VERSION: this run's rows replace the stream's, in one manifest written at
        end of input (readers keep seeing the earlier rows until then). Arriving after this run
        committed rows, it is ignored: replacing then would drop those rows."""
        if self.committed_rows:
            self.logger.warning(
                "ACTIVATE_VERSION for %s after rows were committed: ignored", self.stream_name
            )
            return
        self.logger.info("ACTIVATE_VERSION for %s: this run replaces the stream's objects", self.stream_name)
        self._table_version = new_version
