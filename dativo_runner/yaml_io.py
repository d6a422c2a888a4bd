"""Reading YAML files with errors that name the file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dativo_runner.errors import ConfigError, Problem


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)  # merge keys (<<) first
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: Path, *, display: str | None = None) -> dict[str, Any]:
    """Parse a YAML mapping; a missing file, bad syntax or a non-mapping is a ConfigError."""
    name = display or str(path)
    if not path.is_file():
        raise ConfigError([Problem(name, "", "file not found")])
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([Problem(name, where, f"invalid YAML: {reason}")]) from None
    except UnicodeDecodeError:
        raise ConfigError([Problem(name, "", "not UTF-8 text")]) from None
    if not isinstance(data, dict):
        raise ConfigError([Problem(name, "", "expected a mapping at the top level")])
    return data
