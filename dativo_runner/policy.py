"""The governance policy (``configs/policy.yaml``) turned into per-column actions for an asset."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dativo_runner.assets import AssetSpec
from dativo_runner.errors import ConfigError, Problem
from dativo_runner.home import ProjectHome
from dativo_runner.schema_validation import validate_document
from dativo_runner.yaml_io import load_yaml


@dataclass(frozen=True)
class ColumnPolicies:
    """Per-column actions, the salt for hashing, and a column doc naming each classification."""

    actions: dict[str, str] = field(default_factory=dict)
    salt: str = ""
    docs: dict[str, str] = field(default_factory=dict)
    unset_salt: str | None = None  # the salt variable the policy names but nobody set


def load_policy(home: ProjectHome) -> dict[str, Any]:
    """The policy's classifications (empty when the project has no policy file)."""
    if not home.policy.is_file():
        return {}
    display = home.display(home.policy)
    data = load_yaml(home.policy, display=display)
    problems = validate_document("policy", data, display)
    if problems:
        raise ConfigError(problems)
    return dict((data["policy"] or {}).get("classifications") or {})


def _rule(classifications: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The policy rule of a classification, matched without regard to case (``pii`` is ``PII``)."""
    wanted = name.strip().casefold()
    for key, rule in classifications.items():
        if str(key).casefold() == wanted:
            return dict(rule or {})
    return None


def classification_problems(
    asset: AssetSpec, classifications: dict[str, Any], policy_file: str
) -> list[Problem]:
    """A field classified with a name the policy does not define: data could land unprotected."""
    problems = []
    known = ", ".join(sorted(classifications)) or "none: there is no policy file"
    for index, spec in enumerate(asset.fields):
        if spec.classification and _rule(classifications, spec.classification) is None:
            problems.append(
                Problem(
                    asset.file,
                    f"asset.schema[{index}].classification",
                    f"{spec.classification!r} is not a classification of {policy_file} (known: {known})",
                )
            )
    return problems


def column_policies(
    asset: AssetSpec, classifications: dict[str, Any], secrets: Mapping[str, str], tenant: str
) -> ColumnPolicies:
    """Actions for the asset's classified fields; the salt comes from secrets, then environment."""
    actions: dict[str, str] = {}
    docs: dict[str, str] = {}
    salt_names: set[str] = set()
    for spec in asset.fields:
        parts = [spec.description] if spec.description else []
        if spec.classification:
            rule = _rule(classifications, spec.classification) or {}
            action = rule.get("action", "allow")
            actions[spec.name] = action
            if rule.get("salt_env"):
                salt_names.add(rule["salt_env"])
            parts.append(f"classification: {spec.classification}; policy: {action}")
        if parts:
            docs[spec.name] = "; ".join(parts)
    salt = ""
    for name in sorted(salt_names):
        salt = secrets.get(name) or os.environ.get(name) or salt
    unset = ", ".join(sorted(salt_names)) if salt_names and not salt else None
    return ColumnPolicies(actions=actions, salt=salt or f"dativo:{tenant}", docs=docs, unset_salt=unset)
