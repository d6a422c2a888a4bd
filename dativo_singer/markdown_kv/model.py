"""The parsed form of a Markdown-KV document and the error a malformed one raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from dativo_singer.errors import FatalError


class MarkdownKVError(FatalError):
    """A malformed Markdown-KV document: names the file and the line (1-based)."""

    def __init__(self, source: str, line: int, detail: str) -> None:
        self.source = source
        self.line = line
        self.detail = detail
        super().__init__(f"{source} line {line}: {detail}")


@dataclass
class Record:
    """One record: its heading (None when the block has none) and its ``key: value`` pairs in
    document order. ``line`` is where the record starts (its heading, else its block)."""

    heading: str | None
    fields: dict[str, str] = field(default_factory=dict)
    line: int = field(default=0, compare=False)


@dataclass
class Document:
    """A Markdown-KV document: an optional title and its records."""

    title: str | None = None
    records: list[Record] = field(default_factory=list)
