"""Reading YAML files with errors that name the file and line."""

from __future__ import annotations

import copy
import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Any

import yaml

from dativo_runner.errors import ConfigError, Problem

#: Config documents are shallow: deeper nesting is refused while it is parsed.
MAX_DEPTH = 64
#: Parsed documents kept by content: loading every job of a runner YAML reads the same registry,
#: policy, connector and asset files once per job (a Dagster run worker loads them all).
_PARSED_CACHE_SIZE = 256
_parsed: OrderedDict[tuple[str, str, bytes], dict[str, Any]] = OrderedDict()


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the last) and
    nesting deeper than ``MAX_DEPTH``."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

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


#: Config files are small: a bigger file is refused before it is read.
MAX_DOCUMENT_BYTES = 1024 * 1024
#: Nodes of the document with every alias expanded (what walking the loaded data visits): a
#: YAML alias bomb (nine levels of nine aliases is 9**9 nodes) is refused before it is built.
MAX_EXPANDED_NODES = 100_000


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes of ``root`` counted as if every alias were a copy; stops counting past ``limit``."""
    sizes: dict[int, int] = {}
    started: set[int] = set()
    # Iterative post-order over the node graph (shared nodes are counted once per use).
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if not done:
            if id(node) in started:  # a node inside itself (``&a [*a]``): endless once expanded
                return limit + 1
            started.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        sizes[id(node)] = min(limit + 1, 1 + sum(sizes.get(id(c), 0) for c in children))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _parse(text: str, name: str) -> Any:
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
            raise ConfigError(
                [
                    Problem(
                        name,
                        "",
                        f"invalid YAML: more than {MAX_EXPANDED_NODES:,} values once aliases are "
                        "expanded (an alias bomb?)",
                    )
                ]
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(path: Path, *, display: str | None = None) -> dict[str, Any]:
    """Parse a YAML mapping; a missing file, bad syntax, a non-mapping, a file over
    ``MAX_DOCUMENT_BYTES`` or an alias expansion over ``MAX_EXPANDED_NODES`` is a ConfigError."""
    name = display or str(path)
    if not path.is_file():
        raise ConfigError([Problem(name, "", "file not found")])
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        limit = f"{MAX_DOCUMENT_BYTES // 1024:,} KiB"
        raise ConfigError(
            [Problem(name, "", f"file of {size:,} bytes is over the {limit} a config file may have")]
        )
    raw = path.read_bytes()
    key = (str(path), name, hashlib.sha256(raw).digest())
    if key in _parsed:
        _parsed.move_to_end(key)
        return copy.deepcopy(_parsed[key])
    try:
        data = _parse(raw.decode("utf-8"), name)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([Problem(name, where, f"invalid YAML: {reason}")]) from None
    except RecursionError:
        raise ConfigError([Problem(name, "", "invalid YAML: nested too deeply")]) from None
    except UnicodeDecodeError:
        raise ConfigError([Problem(name, "", "not UTF-8 text")]) from None
    if not isinstance(data, dict):
        raise ConfigError([Problem(name, "", "expected a mapping at the top level")])
    _parsed[key] = copy.deepcopy(data)
    if len(_parsed) > _PARSED_CACHE_SIZE:
        _parsed.popitem(last=False)
    return data
