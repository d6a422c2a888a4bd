"""Checking ``--config`` files before singer-sdk reads them (it would print a traceback)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from dativo_singer.errors import FatalError


def config_paths(argv: list[str]) -> list[str]:
    """The files given with ``--config PATH`` or ``--config=PATH`` (not ``ENV``)."""
    paths = [value for flag, value in itertools.pairwise(argv) if flag == "--config"]
    paths += [arg.split("=", 1)[1] for arg in argv if arg.startswith("--config=")]
    return [path for path in paths if path != "ENV"]


def check_config_files(argv: list[str]) -> None:
    """Each config file exists and holds a JSON object, else one line naming it."""
    for path in config_paths(argv):
        try:
            value = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FatalError(f"{path}: config file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise FatalError(f"{path}: cannot read the config file ({exc})") from None
        except json.JSONDecodeError as exc:
            raise FatalError(
                f"{path}: line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}"
            ) from None
        if not isinstance(value, dict):
            raise FatalError(f"{path}: expected a JSON object, got {type(value).__name__}")
