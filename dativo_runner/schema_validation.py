"""Validating config documents against the JSON Schemas shipped in ``dativo_runner/schemas``."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from dativo_runner.errors import Problem

KINDS = ("job", "connector", "asset", "registry", "runner", "policy")


@cache
def _validator(kind: str) -> Draft202012Validator:
    text = resources.files("dativo_runner.schemas").joinpath(f"{kind}.schema.json").read_text()
    return Draft202012Validator(json.loads(text))


def _field(error: ValidationError) -> str:
    parts = ""
    for item in error.absolute_path:
        parts += f"[{item}]" if isinstance(item, int) else (f".{item}" if parts else str(item))
    return parts


def _message(error: ValidationError) -> tuple[str, str]:
    field = _field(error)
    if error.validator == "additionalProperties":
        schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
        instance = error.instance if isinstance(error.instance, dict) else {}
        extra = sorted(set(instance) - set(schema.get("properties", {})))
        keys = ", ".join(repr(k) for k in extra)
        return field, f"unknown key {keys}" if len(extra) == 1 else f"unknown keys {keys}"
    if error.validator == "required":
        return field, error.message.replace("is a required property", "is required")
    if error.validator == "type":
        return field, f"expected {error.validator_value}, got {type(error.instance).__name__}"
    if error.validator == "pattern":
        described = error.schema.get("description") if isinstance(error.schema, dict) else None
        hint = described or f"must match {error.validator_value}"
        return field, f"{error.instance!r} is not allowed: {hint}"
    return field, error.message


def validate_document(kind: str, data: Any, file: str) -> list[Problem]:
    """Every schema violation of ``data`` as a Problem naming file and field, in document order."""
    errors = sorted(_validator(kind).iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    problems = []
    for error in errors:
        field, message = _message(error)
        problems.append(Problem(file, field, message))
    return problems
