"""JSON with every number exact: integers of any size and decimals' digits, both ways."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import orjson

# A run of 16 digits/dots: a number a double may not hold exactly (or any long digit run).
_LONG_NUMBER = re.compile(rb"[0-9][0-9.]{15}")
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


def holds_long_number(line: bytes) -> bool:
    """True when a JSON line may hold a number that orjson would not decode exactly."""
    return _LONG_NUMBER.search(line) is not None


def loads_exact(line: bytes | str) -> Any:
    """A JSON message decoded with every number exact: orjson, unless the line holds a long
    number (orjson makes integers beyond 64 bits and long decimals doubles); then integers of
    any size and non-integers as ``Decimal``."""
    data = line.encode() if isinstance(line, str) else line
    if _LONG_NUMBER.search(data) is None:
        return orjson.loads(data)
    return json.loads(data, parse_float=Decimal)


def _exact_default(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(str(value))
    return str(value)


def _big_ints_as_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _UINT64_MAX:
        return orjson.Fragment(str(value))
    if isinstance(value, dict):
        return {k: _big_ints_as_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_big_ints_as_text(v) for v in value]
    return value


def exact_json(value: Any) -> bytes:
    """``value`` as JSON, numbers exactly: integers of any size, ``Decimal`` as its digits."""
    options = orjson.OPT_NON_STR_KEYS
    try:
        return orjson.dumps(value, default=_exact_default, option=options)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits
        return orjson.dumps(_big_ints_as_text(value), default=_exact_default, option=options)


def _json_text(value: Any) -> str:
    return exact_json(value).decode()
