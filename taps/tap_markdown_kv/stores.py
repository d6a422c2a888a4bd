"""Where Markdown-KV files come from: local paths, folders and globs, or ``s3://bucket/prefix``."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dativo_singer.errors import FatalError, RetriableError
from dativo_singer.source_files import resolve_paths, source_name

# A folder (local or an S3 prefix) stands for the Markdown files below it.
FOLDER_SUFFIXES = (".md", ".markdown")


@dataclass(frozen=True)
class SourceFile:
    """One file to read: ``key`` identifies it in the state (absolute path or S3 URL), ``name``
    is what rows show (relative to ``base_dir`` when inside it)."""

    key: str
    name: str
    size: int
    mtime_ns: int

    def fingerprint(self) -> dict[str, int]:
        """Size and modification time, as tap-csv keeps them."""
        return {"size": self.size, "mtime_ns": self.mtime_ns}


class FileStore(Protocol):
    """Lists the files a configured path stands for and reads them."""

    def find(self, pattern: str, setting: str) -> list[SourceFile]: ...

    def read(self, file: SourceFile) -> bytes: ...


class LocalStore:
    """Local files: a file, a folder (its ``*.md``/``*.markdown`` files, recursively) or a glob."""

    def __init__(self, base_dir: str | None) -> None:
        self.base_dir = base_dir

    def find(self, pattern: str, setting: str) -> list[SourceFile]:
        full = os.path.join(self.base_dir, pattern) if self.base_dir else pattern
        if os.path.isdir(full):
            paths = sorted(p for p in Path(full).rglob("*") if p.is_file() and p.suffix in FOLDER_SUFFIXES)
        else:
            paths = resolve_paths(pattern, self.base_dir)
        files = []
        for path in paths:
            stat = path.stat()
            name = source_name(path, self.base_dir)
            files.append(SourceFile(str(path.resolve()), name, stat.st_size, stat.st_mtime_ns))
        return files

    def read(self, file: SourceFile) -> bytes:
        try:
            return Path(file.key).read_bytes()
        except OSError as exc:
            raise FatalError(f"{file.name}: cannot read ({exc.strerror or exc})") from None


def split_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ``("bucket", "some/prefix")``."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return bucket, prefix


class S3Store:
    """Objects on S3 or an S3-compatible store (MinIO, SeaweedFS), read with pyarrow's S3 client.

    A path is an object key, a prefix (its ``*.md``/``*.markdown`` objects) or a glob
    (``s3://bucket/docs/**/*.md``)."""

    def __init__(self, config: dict[str, Any]) -> None:
        from pyarrow import fs

        endpoint = config.get("s3_endpoint_url") or ""
        scheme = "http" if endpoint.startswith("http://") else "https"
        self._fs = fs.S3FileSystem(
            access_key=config.get("s3_access_key_id"),
            secret_key=config.get("s3_secret_access_key"),
            region=config.get("s3_region") or "us-east-1",
            endpoint_override=endpoint.split("://", 1)[-1] or None,
            scheme=scheme,
            connect_timeout=10,
            request_timeout=60,
        )
        self._where = endpoint or "S3"

    def _objects(self, bucket: str, prefix: str) -> list[Any]:
        from pyarrow import fs

        base = f"{bucket}/{prefix}".rstrip("/")
        infos = self._fs.get_file_info(fs.FileSelector(base, recursive=True, allow_not_found=True))
        return [i for i in infos if i.type == fs.FileType.File]

    def find(self, pattern: str, setting: str) -> list[SourceFile]:
        bucket, key = split_s3_url(pattern)
        if not bucket:
            raise FatalError(f"{setting}: {pattern!r} names no bucket")
        try:
            return self._list(bucket, key)
        except OSError as exc:
            raise _s3_error(setting, pattern, self._where, exc) from None

    def _list(self, bucket: str, key: str) -> list[SourceFile]:
        glob_at = min((key.find(c) for c in "*?[" if c in key), default=-1)
        if glob_at >= 0:
            folder = key[:glob_at].rpartition("/")[0]
            listed = self._objects(bucket, folder)
            infos = [i for i in listed if _glob_match(i.path, f"{bucket}/{key}")]
        else:
            from pyarrow import fs

            single = self._fs.get_file_info(f"{bucket}/{key}") if key else None
            infos = [single] if single is not None and single.type == fs.FileType.File else []
            if not infos:
                folder = f"{bucket}/{key}".rstrip("/") + "/"
                listed = self._objects(bucket, key)
                infos = [i for i in listed if i.path.endswith(FOLDER_SUFFIXES) and i.path.startswith(folder)]
        return [
            SourceFile(f"s3://{i.path}", f"s3://{i.path}", int(i.size), int(i.mtime_ns or 0))
            for i in sorted(infos, key=lambda i: i.path)
        ]

    def read(self, file: SourceFile) -> bytes:
        path = file.key.removeprefix("s3://")
        try:
            with self._fs.open_input_stream(path) as stream:
                return bytes(stream.read())
        except OSError as exc:
            raise _s3_error(file.name, file.key, self._where, exc) from None


def _glob_match(path: str, pattern: str) -> bool:
    """``**`` matches across folders, ``*`` within one."""
    if "**" in pattern:
        return fnmatch.fnmatchcase(path, pattern.replace("**/", "*")) or fnmatch.fnmatchcase(path, pattern)
    return fnmatch.fnmatchcase(path, pattern) and path.count("/") == pattern.count("/")


# Answers retrying cannot change (pyarrow writes them as ACCESS_DENIED, the S3 API as AccessDenied).
_REFUSALS = ("ACCESSDENIED", "INVALIDACCESSKEYID", "SIGNATUREDOESNOTMATCH", "NOSUCHBUCKET", "FORBIDDEN")


def _s3_error(setting: str, url: str, where: str, exc: OSError) -> Exception:
    text = str(exc)
    detail = text.splitlines()[0] if text else type(exc).__name__
    squashed = text.upper().replace("_", "")
    if any(word in squashed for word in _REFUSALS):
        return FatalError(f"{setting}: cannot read {url} on {where}: {detail}")
    return RetriableError(f"{setting}: cannot reach {url} on {where}: {detail}")


def store_for(path: str, config: dict[str, Any]) -> FileStore:
    """The store a configured path lives in."""
    return S3Store(config) if path.startswith("s3://") else LocalStore(config.get("base_dir"))


def files_of(
    obj: str, entries: list[tuple[int, dict[str, Any]]], config: dict[str, Any]
) -> Iterator[tuple[FileStore, SourceFile]]:
    """Every file of an object's ``files`` entries, in order; an entry matching none is an error."""
    for index, entry in entries:
        store = store_for(entry["path"], config)
        found = store.find(entry["path"], f"files[{index}].path")
        if not found:
            raise FatalError(f"files[{index}].path: no file matches {entry['path']!r} (object {obj!r})")
        for file in found:
            yield store, file
