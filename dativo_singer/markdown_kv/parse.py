"""Reading Markdown-KV text into a `Document`; a malformed line raises `MarkdownKVError`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dativo_singer.markdown_kv.escape import read_plain_or_quoted, read_quoted
from dativo_singer.markdown_kv.model import Document, MarkdownKVError, Record

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")
_DEEPER_HEADING = re.compile(r"^#{3,}(\s|$)")
_KEY_SEPARATOR = re.compile(r":(?:[ \t]|$)")


@dataclass
class _Block:
    """The record being read: whether its block is fenced (and by what), open or closed."""

    record: Record
    fence: str | None = None  # the opening fence while inside it
    fence_line: int = 0
    closed: bool = False  # a fenced block was closed: no more lines for this record
    last_key: str | None = None
    last_indent: int = 0  # indentation of the last key line: a deeper line continues its value


def _closes(line: str, fence: str) -> bool:
    """A closing fence: the opening fence's character, at least as many times, nothing else."""
    text = line.strip()
    return len(text) >= len(fence) and text == fence[0] * len(text)


def parse_bytes(data: bytes, source: str) -> Document:
    """Parse a UTF-8 file's bytes; ``source`` names the file in errors."""
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise MarkdownKVError(source, line, "not a text file (a NUL byte)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise MarkdownKVError(
            source, line, f"not valid utf-8 (byte 0x{data[exc.start]:02X} at offset {exc.start})"
        ) from None
    return parse_text(text, source)


def parse_text(text: str, source: str = "<text>") -> Document:
    """Parse Markdown-KV text (any of LF, CRLF or CR line breaks; a byte order mark is skipped)."""
    return _Parser(source).run(text.removeprefix("\ufeff"))


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.document = Document()
        self.block: _Block | None = None

    def error(self, line: int, detail: str) -> MarkdownKVError:
        return MarkdownKVError(self.source, line, detail)

    def run(self, text: str) -> Document:
        for number, line in enumerate(_LINE_BREAK.split(text), start=1):
            self.line(number, line)
        if self.block is not None and self.block.fence is not None:
            raise self.error(self.block.fence_line, "this fenced block is never closed")
        return self.document

    def line(self, number: int, line: str) -> None:
        block = self.block
        if block is not None and block.fence is not None:
            if _closes(line, block.fence):
                block.fence, block.closed = None, True
            elif line.strip():
                self.key_value(number, line, block)
            return
        if not line.strip():
            return
        if line == "#" or line.startswith("# "):
            self.title(number, line)
        elif line == "##" or line.startswith("## "):
            heading = read_plain_or_quoted(line[2:])
            self.start(Record(heading, line=number))
        elif _DEEPER_HEADING.match(line):
            raise self.error(number, "only a '# title' and '## record' headings are allowed")
        elif fence := _FENCE.match(line.strip()):
            if fence.group(1)[0] == "`" and "`" in fence.group(2):
                raise self.error(number, "a fence's info string may not hold backticks")
            if block is None or block.closed or block.record.fields:
                block = self.start(Record(None, line=number))
            block.fence, block.fence_line = fence.group(1), number
        elif block is not None and block.closed:
            raise self.error(number, "a 'key: value' line after the record's fenced block")
        else:
            if block is None:
                block = self.start(Record(None, line=number))
            self.key_value(number, line, block)

    def title(self, number: int, line: str) -> None:
        if self.document.title is not None or self.document.records:
            raise self.error(number, "a '# title' after the document's start (one title, first)")
        self.document.title = read_plain_or_quoted(line[1:])

    def start(self, record: Record) -> _Block:
        self.document.records.append(record)
        self.block = _Block(record)
        return self.block

    def key_value(self, number: int, line: str, block: _Block) -> None:
        fields = block.record.fields
        indent = len(line) - len(line.lstrip(" \t"))
        if block.last_key is not None and indent > block.last_indent:
            fields[block.last_key] += "\n" + line.strip()  # a hand-written continuation line
            return
        key, rest = self.split(number, line.strip())
        if key in fields:
            raise self.error(number, f"key {key!r} repeats in this record")
        fields[key] = read_plain_or_quoted(rest)
        block.last_key, block.last_indent = key, indent

    def split(self, number: int, line: str) -> tuple[str, str]:
        quoted = read_quoted(line)
        if quoted is not None:
            separator = _KEY_SEPARATOR.match(line, quoted[1])
            if separator is not None:
                return quoted[0], line[separator.end() :]
            # not one JSON string before the ':': the key is taken literally, like any text
        separator = _KEY_SEPARATOR.search(line)
        if separator is None:
            shown = line if len(line) <= 40 else line[:37] + "..."
            raise self.error(number, f"expected 'key: value', got {shown!r}")
        key = line[: separator.start()].strip()
        if not key:
            raise self.error(number, "a 'key: value' line with an empty key")
        return key, line[separator.end() :]
