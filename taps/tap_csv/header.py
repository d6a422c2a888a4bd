"""Header rules: the names a file gives its columns, checked against the object's schema."""

from __future__ import annotations

from collections.abc import Collection

from tap_csv.reader import COMMON_DELIMITERS, CSVFile


def _listed(names: Collection[str], most: int = 6) -> str:
    shown = ", ".join(repr(n) for n in list(names)[:most])
    return shown + (", ..." if len(names) > most else "")


def match_name(name: str, properties: Collection[str]) -> str | None:
    """The schema property a header name stands for: itself, else itself without surrounding blanks."""
    if name in properties:
        return name
    stripped = name.strip()
    return stripped if stripped in properties else None


def other_delimiters(file: CSVFile) -> list[str]:
    """Common delimiters found in a one-column header: a sign the file uses another one."""
    if len(file.header) != 1:
        return []
    return [d for d in COMMON_DELIMITERS if d != file.spec.delimiter and d in file.header[0]]


def check_names(file: CSVFile) -> None:
    """No empty and no repeated column name in a header read from the file."""
    seen: dict[str, int] = {}
    for position, name in enumerate(file.header, 1):
        if not name.strip():
            raise file.fail(file.header_line, "header name is empty", position)
        if name in seen:
            raise file.fail(file.header_line, f"header name {name!r} repeats column {seen[name]}", position)
        seen[name] = position


def check_against_schema(file: CSVFile, expected: Collection[str], required: Collection[str]) -> None:
    """The header must share columns with the schema and hold every required one.

    A one-column header while the schema expects several, holding another common delimiter,
    is reported as a delimiter that does not match the file."""
    header, line, spec = file.header, file.header_line or None, file.spec
    if not header or not expected:
        return
    matched = {match_name(name, expected) for name in header} - {None}
    if len(header) == 1 and len(expected) > 1:
        others = other_delimiters(file)
        if others:
            raise file.fail(
                line,
                f"the header has 1 column but the schema of {spec.object!r} expects {len(expected)}; "
                f"it contains {others[0]!r}: set {spec.setting}.delimiter to {others[0]!r} "
                f"(now {spec.delimiter!r})",
            )
    if not matched:
        raise file.fail(
            line,
            f"none of the header's columns ({_listed(header)}) is in the schema of {spec.object!r} "
            f"({_listed(expected)}); check {spec.setting}.delimiter ({spec.delimiter!r}) and the header",
        )
    missing = [name for name in required if name not in matched]
    if missing:
        raise file.fail(
            line, f"required column(s) {_listed(missing)} of {spec.object!r} missing from the header"
        )
