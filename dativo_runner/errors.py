"""Errors of the runner: each names the file, the field and what is wrong, in one line."""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_FAILURE = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (file, field) and what."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


class DativoError(Exception):
    """A failure the CLI reports as one line per problem, exit code 2."""

    exit_code = EXIT_FAILURE

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("dativo", "", problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ConfigError(DativoError):
    """A job, connector, asset, registry or runner file is missing or invalid."""


class JobConfigError(ConfigError):
    """A job file's own settings are invalid (its ``partitions``, an unknown partition key)."""
