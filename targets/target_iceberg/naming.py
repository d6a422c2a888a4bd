"""Table names of streams, and the namespace: safe as Iceberg identifiers and as paths."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dativo_singer.errors import FatalError

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,254}")
_NAME_RULE = "letters, digits, '_' and '-', not starting with '-'"


def table_name_for(stream_name: str, config: Mapping[str, Any]) -> str:
    """``table_names`` mapping, else the stream name in lower case with every character other
    than letters, digits and ``_`` replaced by ``_`` (safe in paths and SQL). A mapped name
    that is not a plain name (``../x``, ``a/b``, ``a.b``) is refused with one line."""
    mapping: dict[str, str] = config.get("table_names") or {}
    mapped = mapping.get(stream_name)
    if mapped:
        if not _NAME.fullmatch(mapped):
            raise FatalError(
                f"setting 'table_names': {mapped!r} (stream {stream_name!r}) is not allowed: {_NAME_RULE}"
            )
        return mapped
    return re.sub(r"[^a-z0-9_]", "_", stream_name.lower())


def namespace_for(config: Mapping[str, Any]) -> str:
    """``namespace`` (``default``): ``.``-separated plain names; ``/``, ``\\``, ``..`` and empty
    parts are refused with one line, since the namespace names folders of the warehouse."""
    namespace = str(config.get("namespace") or "default")
    if not all(_NAME.fullmatch(part) for part in namespace.split(".")):
        raise FatalError(
            f"setting 'namespace': {namespace!r} is not allowed: '.'-separated names of {_NAME_RULE}"
        )
    return namespace
