"""Text for a terminal: long hashes shortened, lines wrapped to its width (`show`, `state show`)."""

from __future__ import annotations

import os
import re
import sys
import textwrap

_HASH = re.compile(r"\b[0-9a-f]{64}\b")
HASH_SHOWN = 12
MIN_WIDTH = 20


def output_width() -> int | None:
    """The width of the terminal stdout is (``COLUMNS`` when set); None for a pipe or a file,
    whatever ``COLUMNS`` says (lines are then left whole, for whatever reads them)."""
    try:
        if not sys.stdout.isatty():
            return None
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() else os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        return None
    return width if width >= MIN_WIDTH else None


def fit(text: str, *, full: bool = False, width: int | None = None) -> str:
    """``text`` with 64-character hex hashes cut to their first 12 characters and ``...`` and
    each line wrapped at spaces to the terminal's width (continuations indented four more);
    ``full`` keeps text as it is."""
    if full:
        return text
    width = width or output_width()
    text = _HASH.sub(lambda match: match.group(0)[:HASH_SHOWN] + "...", text)
    if width is None:
        return text
    lines = []
    for line in text.splitlines():
        indent = line[: len(line) - len(line.lstrip(" "))]
        if len(line) <= width:
            lines.append(line)
            continue
        lines.extend(
            textwrap.wrap(
                line.strip(),
                width=width,
                initial_indent=indent,
                subsequent_indent=indent + "    ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)
