"""Markdown-KV: the one codec (parse and render) every part of the product uses.

A document is an optional ``# Title`` and, per record, a ``## <heading>`` followed by a fenced
(or unfenced) block of ``key: value`` lines. See docs/MARKDOWN_KV_STORAGE.md for the format and
its escaping rule.
"""

from dativo_singer.markdown_kv.model import Document, MarkdownKVError, Record
from dativo_singer.markdown_kv.parse import parse_bytes, parse_text
from dativo_singer.markdown_kv.render import render_document, render_record

__all__ = [
    "Document",
    "MarkdownKVError",
    "Record",
    "parse_bytes",
    "parse_text",
    "render_document",
    "render_record",
]
