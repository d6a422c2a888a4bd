"""Writing records as Markdown-KV: a ``## heading`` and a fenced block of ``key: value`` lines."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from dativo_singer.markdown_kv.escape import heading_text, key_text, value_text
from dativo_singer.markdown_kv.model import Document, Record

FENCE = "```"


def text_of(value: Any) -> str | None:
    """A record value as Markdown-KV text (None stays None: the key is left out).

    Booleans are ``true``/``false``, numbers as JSON writes them, dates and times in ISO 8601,
    objects and arrays as compact JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def render_record(heading: str | None, fields: Mapping[str, Any], newline: str = "\n") -> str:
    """One record: its heading line (when it has one), a blank line and its fenced block.

    Keys whose value is None are left out; a reader sees them as absent (null)."""
    lines = [] if heading is None else [f"## {heading_text(heading)}".rstrip(), ""]
    lines.append(FENCE)
    for key, value in fields.items():
        text = text_of(value)
        if text is not None:
            lines.append(f"{key_text(key)}: {value_text(text)}".rstrip(" "))
    lines.append(FENCE)
    return newline.join(lines) + newline


def render_records(records: Iterable[Record], title: str | None = None, newline: str = "\n") -> Iterable[str]:
    """A document piece by piece: the title line, then each record, separated by blank lines."""
    first = True
    if title is not None:
        yield f"# {heading_text(title)}".rstrip() + newline
        first = False
    for record in records:
        yield ("" if first else newline) + render_record(record.heading, record.fields, newline)
        first = False


def render_document(document: Document, newline: str = "\n") -> str:
    """A whole document as text (``newline="\\r\\n"`` writes CRLF)."""
    return "".join(render_records(document.records, document.title, newline))
