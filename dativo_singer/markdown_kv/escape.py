"""The escaping rule of Markdown-KV, the one place keys, values, headings and titles are quoted.

Text is written as is when a reader cannot mistake it; otherwise it is written as a JSON string
literal (double quotes, backslash escapes). A reader decodes a token that is one whole JSON
string literal and keeps any other text literally, so hand-written files need no escaping and
whatever the renderer writes reads back exactly:

- a **value** is quoted when it has leading or trailing whitespace,
  holds a line break or another control character, or starts with ``"``;
- a **key** also when it is empty, starts with ``#``, a fence (```` ``` ```` / ``~~~``), holds
  ``:`` followed by whitespace or ends with ``:``;
- a **heading** or **title** when it has leading or trailing whitespace, a control character or
  starts with ``"``.
"""

from __future__ import annotations

import json
import re

# Characters some readers take as line breaks although JSON does not escape them.
_LINE_SEPARATORS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_KEY_COLON = re.compile(r":(\s|$)")
_DECODER = json.JSONDecoder()


def quote(text: str) -> str:
    """``text`` as a JSON string literal on one line."""
    quoted = json.dumps(text, ensure_ascii=False)
    for char, escaped in _LINE_SEPARATORS.items():
        quoted = quoted.replace(char, escaped)
    return quoted


def _plain_text_is_safe(text: str) -> bool:
    return text == text.strip() and not _CONTROL.search(text) and not text.startswith('"')


def value_text(value: str) -> str:
    """How a value is written after ``key: ``."""
    return value if _plain_text_is_safe(value) else quote(value)


def key_text(key: str) -> str:
    """How a key is written before ``: ``."""
    plain = (
        key
        and _plain_text_is_safe(key)
        and not key.startswith(("#", "```", "~~~"))
        and not _KEY_COLON.search(key)
    )
    return key if plain else quote(key)


def heading_text(text: str) -> str:
    """How a heading or title is written after ``## `` or ``# ``."""
    return text if _plain_text_is_safe(text) else quote(text)


def read_quoted(text: str, start: int = 0) -> tuple[str, int] | None:
    """The JSON string literal at ``text[start]`` and the index after it, or None if there is
    none (the text is then taken literally)."""
    if not text.startswith('"', start):
        return None
    try:
        value, end = _DECODER.raw_decode(text, start)
    except ValueError:
        return None
    return (value, end) if isinstance(value, str) else None


def read_plain_or_quoted(text: str) -> str:
    """A value, heading or title as written: a whole JSON string literal is decoded, anything
    else is the text without surrounding whitespace."""
    stripped = text.strip()
    decoded = read_quoted(stripped)
    if decoded is not None and decoded[1] == len(stripped):
        return decoded[0]
    return stripped
