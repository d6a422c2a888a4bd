"""One error taxonomy for taps and targets: fatal vs retriable."""

from __future__ import annotations


class DativoSingerError(Exception):
    """Base class of errors a tap or target reports as one clear line."""


class FatalError(DativoSingerError):
    """Bad input or configuration: retrying cannot help."""


class RetriableError(DativoSingerError):
    """A transient failure (network, conflict): the same call may succeed later."""


class DataValueError(FatalError):
    """A source value that cannot be read as its declared type."""

    def __init__(self, source: str, line: int, column: str, detail: str) -> None:
        self.source = source
        self.line = line
        self.column = column
        super().__init__(f"{source} line {line} column {column}: {detail}")
