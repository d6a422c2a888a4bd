"""Typed rows of one downloaded CSV file, with tap-csv's reader, header rules and cell parsers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tap_csv.files import FileSpec
from tap_csv.header import check_against_schema, check_names, match_name
from tap_csv.reader import CSVFile

from dativo_singer.errors import DataValueError, DativoSingerError
from dativo_singer.text_values import converter_for, is_nullable


@contextmanager
def opened(
    spec: FileSpec, path: Path, display: str, columns: list[str], required: list[str]
) -> Iterator[CSVFile]:
    """The file opened by tap-csv's reader with its header checked against the schema; errors
    name ``display`` (the Drive file), not the temporary copy."""
    try:
        with CSVFile(spec, path) as file:
            if not spec.columns:
                check_names(file)
            check_against_schema(file, columns, required)
            yield file
    except DataValueError as exc:
        raise DataValueError(display, exc.line, exc.column, str(exc).split(": ", 1)[-1]) from None
    except DativoSingerError as exc:
        raise type(exc)(str(exc).replace(str(path), display)) from None


def typed_rows(
    file: CSVFile,
    properties: dict[str, Any],
    required: set[str],
    *,
    display: str,
    pass_invalid: bool,
    logger: logging.Logger,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, record)`` per data row, each cell typed by its schema property (tap-csv's parsers);
    a cell that does not parse stops the run naming file, line and column, or with
    ``pass_invalid`` goes on as its text for the target to dead-letter."""
    columns: list[tuple[str | None, Any, bool]] = []
    for header_name in file.header:
        matched = match_name(header_name, list(properties))
        if matched is None:
            logger.warning("Column %r of %s is not in the schema; ignored", header_name, display)
            columns.append((None, None, True))
        else:
            prop = properties[matched]
            columns.append((matched, converter_for(prop), is_nullable(prop)))
    nulls = set(file.spec.null_values)
    try:
        for line, row in file.rows():
            record: dict[str, Any] = {}
            for (name, convert, nullable), text in zip(columns, row, strict=True):
                if name is None:
                    continue
                if text in nulls:
                    if (not nullable or name in required) and not pass_invalid:
                        raise DataValueError(display, line, name, "empty value in required column")
                    record[name] = None
                    continue
                try:
                    record[name] = convert(text)
                except ValueError as exc:
                    if not pass_invalid:
                        raise DataValueError(display, line, name, str(exc)) from None
                    record[name] = text
            yield line, record
    except DataValueError as exc:
        if exc.source == display:
            raise
        raise DataValueError(display, exc.line, exc.column, str(exc).split(": ", 1)[-1]) from None
    except DativoSingerError as exc:
        raise type(exc)(str(exc).replace(str(file.path), display)) from None
