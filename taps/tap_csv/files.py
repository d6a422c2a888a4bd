"""Finding the files of one CSV object and fingerprinting them for incremental runs."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tap_csv.settings import single_char


@dataclass(frozen=True)
class FileSpec:
    """One `files:` entry of the config: an object name and a path or glob."""

    object: str
    path: str
    delimiter: str = ","
    encoding: str = "utf-8"
    header: bool = True
    columns: tuple[str, ...] = ()
    skip_rows: int = 0
    quotechar: str = '"'
    null_values: tuple[str, ...] = ("",)
    index: int = 0  # position in `files`, to name the setting in error messages

    @classmethod
    def from_config(cls, entry: dict[str, Any], index: int = 0) -> FileSpec:
        """Build from a config dict (already checked by `settings.config_problems`)."""
        return cls(
            object=entry["object"],
            path=entry["path"],
            delimiter=single_char(entry.get("delimiter") or ","),
            encoding=entry.get("encoding") or "utf-8",
            header=entry.get("header", True),
            columns=tuple(entry.get("columns") or ()),
            skip_rows=int(entry.get("skip_rows") or 0),
            quotechar=single_char(entry.get("quotechar") or '"'),
            null_values=tuple(entry.get("null_values") or ("",)),
            index=index,
        )

    @property
    def setting(self) -> str:
        """How error messages name this entry: ``files[0]``."""
        return f"files[{self.index}]"


def resolve_paths(pattern: str, base_dir: str | None) -> list[Path]:
    """Expand a path or glob (relative to ``base_dir``) into sorted existing files."""
    full = pattern if os.path.isabs(pattern) or not base_dir else os.path.join(base_dir, pattern)
    return sorted(Path(p) for p in glob.glob(full, recursive=True) if os.path.isfile(p))


def fingerprint(path: Path) -> dict[str, int]:
    """Size and modification time: a file whose fingerprint is unchanged is not read again."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def source_name(path: Path, base_dir: str | None) -> str:
    """The `_sdc_source_file` value: the path relative to ``base_dir`` when inside it."""
    if base_dir:
        try:
            return path.resolve().relative_to(Path(base_dir).resolve()).as_posix()
        except ValueError:
            pass
    return str(path)
