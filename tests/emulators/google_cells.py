"""Sheets cells and A1 ranges for the Google emulator: render options and range parsing."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SheetDate:
    """A date cell: FORMATTED_STRING gives its text, SERIAL_NUMBER days since 1899-12-30."""

    value: dt.date

    def render(self, option: str) -> Any:
        if option == "SERIAL_NUMBER":
            return (self.value - dt.date(1899, 12, 30)).days
        return self.value.isoformat()


def formatted(cell: Any) -> str:
    if isinstance(cell, SheetDate):
        return cell.render("FORMATTED_STRING")
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    return str(cell)


def render(cell: Any, value_option: str, date_option: str) -> Any:
    if cell is None:
        return None
    if isinstance(cell, SheetDate):
        return cell.render("FORMATTED_STRING") if value_option == "FORMATTED_VALUE" else cell.render(date_option)
    if value_option == "FORMATTED_VALUE":
        return formatted(cell)
    return cell


def _col(letters: str) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number - 1


def a1_cell(col: int, row: int) -> str:
    letters, col = "", col + 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row + 1}"


def split_range(a1: str, tabs: dict[str, Any]) -> tuple[str, tuple[tuple[int, int], tuple[int, int]]]:
    """``Tab``, ``'My tab'!A1:C9``, ``A2:D`` or ``Tab!A:C`` → (title, ((row0, col0), (row1, col1)))."""
    title, sep, cells = a1.rpartition("!")
    if not sep:
        title, cells = (a1, "") if a1 in tabs else (next(iter(tabs), ""), a1)
    title = title[1:-1].replace("''", "'") if title.startswith("'") and title.endswith("'") else title
    if title not in tabs:
        raise ValueError(f"Unable to parse range: {a1}")
    whole = ((0, 0), (10**6, 10**4))
    if not cells:
        return title, whole
    match = re.fullmatch(r"([A-Za-z]*)(\d*)(?::([A-Za-z]*)(\d*))?", cells)
    if not match:
        raise ValueError(f"Unable to parse range: {a1}")
    c0 = _col(match.group(1)) if match.group(1) else 0
    r0 = int(match.group(2)) - 1 if match.group(2) else 0
    c1 = _col(match.group(3)) + 1 if match.group(3) else (c0 + 1 if match.group(3) is None and match.group(1) else 10**4)
    r1 = int(match.group(4)) if match.group(4) else (r0 + 1 if match.group(3) is None and match.group(2) else 10**6)
    return title, ((r0, c0), (r1, c1))
