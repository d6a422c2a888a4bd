"""Validating config documents against the JSON Schemas shipped in ``dativo_runner/schemas``."""

from __future__ import annotations

import difflib
import json
from collections import OrderedDict
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from dativo_runner.errors import Problem


def _schema(kind: str) -> dict[str, Any]:
    """A shipped schema by name, or ``package:file.json`` from an installed connector package."""
    package, _, file = kind.rpartition(":")
    if package:
        path = resources.files(package).joinpath(file)
    else:
        path = resources.files("dativo_runner.schemas").joinpath(f"{kind}.schema.json")
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


@cache
def _validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(_schema(kind))


@cache
def _block_validator(role: str, fragment: str) -> Draft202012Validator:
    """The job's ``source``/``target`` block: the keys every connector shares (job schema) plus
    the connector's own (its plugin's fragment); nothing else."""
    shared = _schema("job")["properties"][role]
    own = _schema(fragment)
    schema = {
        **own,
        "type": "object",
        "additionalProperties": False,
        "properties": {**shared.get("properties", {}), **own.get("properties", {})},
    }
    return Draft202012Validator(schema)


def _field(error: ValidationError, prefix: str = "") -> str:
    parts = prefix
    for item in error.absolute_path:
        parts += f"[{item}]" if isinstance(item, int) else (f".{item}" if parts else str(item))
    return parts


def unknown_key(key: str, allowed: list[str]) -> str:
    """``unknown key 'cursor_feild' (did you mean 'cursor_field'?)`` when one is close."""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
    return f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def _message(error: ValidationError, prefix: str = "") -> tuple[str, str]:
    field = _field(error, prefix)
    if error.validator == "additionalProperties":
        schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
        instance = error.instance if isinstance(error.instance, dict) else {}
        allowed = list(schema.get("properties", {}))
        extra = sorted(set(instance) - set(allowed))
        return field, "; ".join(unknown_key(str(key), allowed) for key in extra)
    if error.validator == "required":
        return field, error.message.replace("is a required property", "is required")
    if error.validator == "type":
        return field, f"expected {error.validator_value}, got {type(error.instance).__name__}"
    if error.validator == "pattern":
        described = error.schema.get("description") if isinstance(error.schema, dict) else None
        hint = described or f"must match {error.validator_value}"
        return field, f"{error.instance!r} is not allowed: {hint}"
    return field, error.message


def _problems(validator: Draft202012Validator, data: Any, file: str, prefix: str = "") -> list[Problem]:
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    problems = []
    for error in errors:
        field, message = _message(error, prefix)
        problems.append(Problem(file, field, message))
    return problems


_VALIDATED_CACHE_SIZE = 512
_validated: OrderedDict[tuple[str, str, str], tuple[Problem, ...]] = OrderedDict()


def validate_document(kind: str, data: Any, file: str) -> list[Problem]:
    """Every schema violation of ``data`` as a Problem naming file and field, in document order.

    Answers are kept by content: loading every job of a runner YAML validates the same
    registry, connector and policy documents once per job."""
    try:
        key = (kind, file, json.dumps(data, sort_keys=True, default=repr))
    except (TypeError, ValueError):  # keys of mixed types cannot be sorted: validate uncached
        return _problems(_validator(kind), data, file)
    if key not in _validated:
        _validated[key] = tuple(_problems(_validator(kind), data, file))
        if len(_validated) > _VALIDATED_CACHE_SIZE:
            _validated.popitem(last=False)
    return list(_validated[key])


def validate_job_block(role: str, fragment: str, data: Any, file: str) -> list[Problem]:
    """Violations of a job's ``source`` or ``target`` block against its connector's schema."""
    return _problems(_block_validator(role, fragment), data, file, role)
