"""The files of one CSV object (finding and fingerprinting them: `dativo_singer.source_files`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dativo_singer.source_files import fingerprint, resolve_paths, source_name
from tap_csv.settings import single_char

__all__ = ["FileSpec", "fingerprint", "resolve_paths", "source_name"]


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
