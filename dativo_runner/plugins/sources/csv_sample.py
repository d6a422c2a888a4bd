"""Types of CSV columns guessed from the first rows of a file (`dativo discover` of csv sources,
whose tap reports every column as text)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SAMPLE_ROWS = 1000
_INTEGER = re.compile(r"[+-]?(0|[1-9][0-9]*)")  # leading zeros (zip codes, ids) stay text
_NUMBER = re.compile(r"[+-]?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_BOOLEAN = {"true", "false"}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?"
)
_RULES: tuple[tuple[str, Any], ...] = (
    ("boolean", lambda v: v.lower() in _BOOLEAN),
    ("integer", _INTEGER.fullmatch),
    ("double", _NUMBER.fullmatch),
    ("date", _DATE.fullmatch),
    ("timestamp", _TIMESTAMP.fullmatch),
)


def guess_type(values: Iterable[str]) -> str:
    """The narrowest asset type every non-empty value fits (``string`` when there is none)."""
    present = [v.strip() for v in values if v.strip()]
    if not present:
        return "string"
    for name, fits in _RULES:
        if all(fits(value) for value in present):
            return name
    return "string"


def sample_columns(
    path: Path, entry: dict[str, Any], limit: int = SAMPLE_ROWS
) -> tuple[list[str], list[list[str]]]:
    """The header and up to ``limit`` rows of a CSV file, read with the entry's options
    (``delimiter``, ``quotechar``, ``encoding``, ``skip_rows``, ``null_values``)."""
    nulls = set(entry.get("null_values") or ())
    encoding = str(entry.get("encoding") or "utf-8")
    with path.open(
        encoding="utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding, newline=""
    ) as handle:
        for _ in range(int(entry.get("skip_rows") or 0)):
            handle.readline()
        reader = csv.reader(
            handle, delimiter=str(entry.get("delimiter") or ","), quotechar=str(entry.get("quotechar") or '"')
        )
        header = (
            next(reader, []) if entry.get("header", True) is not False else list(entry.get("columns") or [])
        )
        rows: list[list[str]] = []
        for row in reader:
            if len(rows) >= limit:
                break
            if row:
                rows.append(["" if cell in nulls else cell for cell in row])
    return header, rows


def column_types(header: list[str], rows: list[list[str]]) -> dict[str, str]:
    """Column name (stripped) → guessed type."""
    return {
        name.strip(): guess_type(row[i] if i < len(row) else "" for row in rows)
        for i, name in enumerate(header)
    }


def pii_kinds(header: list[str], rows: list[list[str]]) -> dict[str, str]:
    """Column name (stripped) → the kind of personal data its sampled values look like."""
    from dativo_singer.pii_values import detect_pii

    found = {
        name.strip(): detect_pii([row[i] if i < len(row) else "" for row in rows])
        for i, name in enumerate(header)
    }
    return {name: kind for name, kind in found.items() if kind}


def unique_first_column(header: list[str], rows: list[list[str]]) -> str | None:
    """The first column when it looks like an identifier (``id`` / ``*_id``) and every sampled
    value is present and distinct: the key to propose."""
    if not header or not rows:
        return None
    name = header[0].strip()
    if not (name.lower() == "id" or name.lower().endswith("_id")):
        return None
    values = [row[0].strip() if row else "" for row in rows]
    return name if all(values) and len(set(values)) == len(values) else None
