"""The governance policy (``configs/policy.yaml``) turned into per-column actions for an asset."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dativo_runner.assets import OWNER_PLACEHOLDER, AssetSpec, FieldSpec
from dativo_runner.config_models import ClassificationRule, PolicySettings, parse
from dativo_runner.errors import ConfigError, Problem
from dativo_runner.home import ProjectHome
from dativo_runner.schema_validation import validate_document
from dativo_runner.yaml_io import load_yaml

if TYPE_CHECKING:
    from dativo_runner.job_config import Job

Classifications = dict[str, ClassificationRule]  # classification name -> its rule


@dataclass(frozen=True)
class ColumnPolicies:
    """Per-column actions, the salt for hashing, and a column doc naming each classification."""

    actions: dict[str, str] = field(default_factory=dict)
    salt: str = ""
    docs: dict[str, str] = field(default_factory=dict)
    unset_salt: str | None = None  # the salt variable the policy names but nobody set


def load_settings(home: ProjectHome) -> PolicySettings:
    """The policy file's settings (the defaults when the project has no policy file)."""
    if not home.policy.is_file():
        return PolicySettings()
    display = home.display(home.policy)
    data = load_yaml(home.policy, display=display)
    problems = validate_document("policy", data, display)
    if problems:
        raise ConfigError(problems)
    return parse(PolicySettings, data["policy"] or {})


def load_policy(home: ProjectHome) -> Classifications:
    """The policy's classifications (empty when the project has no policy file)."""
    return load_settings(home).classifications


def _rule(classifications: Classifications, name: str) -> ClassificationRule | None:
    """The policy rule of a classification, matched without regard to case (``pii`` is ``PII``)."""
    wanted = name.strip().casefold()
    for key, rule in classifications.items():
        if str(key).casefold() == wanted:
            return rule
    return None


def _action(rule: ClassificationRule | None) -> str:
    """A rule's action; a classification the policy does not define changes nothing."""
    return rule.action if rule else "allow"


def _walk(
    fields: tuple[FieldSpec, ...], path: str = "", where: str = "asset.schema"
) -> Iterator[tuple[str, str, FieldSpec]]:
    """``(policy path, field location, field)`` of every field at every depth; an array's
    sub-fields are its objects' fields (``contacts[].email``)."""
    for index, spec in enumerate(fields):
        key = f"{path}{spec.name}"
        location = f"{where}[{index}]"
        yield key, location, spec
        inner = f"{key}[]." if spec.type == "array" else f"{key}."
        yield from _walk(spec.fields, inner, f"{location}.fields")


def classification_problems(
    asset: AssetSpec, classifications: Classifications, policy_file: str
) -> list[Problem]:
    """A field, at any depth, classified with a name the policy does not define: data could
    land unprotected."""
    problems = []
    known = ", ".join(sorted(classifications)) or "none: there is no policy file"
    for key, location, spec in _walk(asset.fields):
        if spec.classification and _rule(classifications, spec.classification) is None:
            problems.append(
                Problem(
                    asset.file,
                    f"{location}.classification",
                    ("" if key == spec.name else f"field {key}: ")
                    + f"{spec.classification!r} is not a classification of {policy_file} "
                    f"(known: {known})",
                )
            )
    return problems


def owner_problems(asset: AssetSpec, settings: PolicySettings, policy_file: str) -> list[Problem]:
    """With the policy's ``require_owner``, an asset that names no owner (or still the
    placeholder ``dativo generate config`` writes) is refused."""
    if not settings.require_owner:
        return []
    owner = (asset.governance.owner or "").strip()
    if owner and owner.lower() != OWNER_PLACEHOLDER.lower():
        return []
    why = "is the placeholder" if owner else "is not set"
    return [
        Problem(
            asset.file,
            "governance.owner",
            f"{why}; {policy_file} sets require_owner: name the dataset's owner (an e-mail or team)",
        )
    ]


def protected_fields(asset: AssetSpec, classifications: Classifications) -> list[str]:
    """Policy paths of the fields a policy hashes, masks or drops."""
    return [
        key
        for key, _, spec in _walk(asset.fields)
        if spec.classification
        and _action(_rule(classifications, spec.classification)) != "allow"
    ]


def column_policies(
    asset: AssetSpec, classifications: Classifications, secrets: Mapping[str, str], tenant: str
) -> ColumnPolicies:
    """Actions for the asset's classified fields at every depth (keys: ``policy_paths``); the
    salt comes from secrets, then environment. Docs name the top-level columns' classes."""
    actions: dict[str, str] = {}
    docs: dict[str, str] = {}
    salt_names: set[str] = set()
    for key, _, spec in _walk(asset.fields):
        parts = [spec.description] if spec.description else []
        if spec.classification:
            rule = _rule(classifications, spec.classification)
            action = _action(rule)
            actions[key] = action
            if rule and rule.salt_env:
                salt_names.add(rule.salt_env)
            parts.append(f"classification: {spec.classification}; policy: {action}")
        if parts and key == spec.name:
            docs[spec.name] = "; ".join(parts)
    salt = ""
    for name in sorted(salt_names):
        salt = secrets.get(name) or os.environ.get(name) or salt
    unset = ", ".join(sorted(salt_names)) if salt_names and not salt else None
    return ColumnPolicies(actions=actions, salt=salt or f"dativo:{tenant}", docs=docs, unset_salt=unset)


def unclassified_pii_mode(home: ProjectHome) -> str | None:
    """The policy's ``unclassified_pii`` setting (warn | fail), None when unset."""
    return load_settings(home).unclassified_pii


def tap_policy_config(job: Job) -> dict[str, Any]:
    """What the runner adds to the tap's config so the tap applies the column policies before
    any value leaves it (docs/ARCHITECTURE.md): ``column_policies`` and ``hash_salt`` when a
    policy changes a value, and ``pii_watch`` when the policy sets ``unclassified_pii``."""
    if not job.source_plugin.applies_column_policies:
        return {}
    policies = column_policies(job.asset, load_policy(job.home), job.secrets, job.tenant_id)
    config: dict[str, Any] = {}
    if any(action != "allow" for action in policies.actions.values()):
        job.redactor.add(policies.salt)
        config = {"column_policies": policies.actions, "hash_salt": policies.salt}
    mode = unclassified_pii_mode(job.home)
    if mode:
        skip = sorted({spec.name for spec in job.asset.fields if spec.classification})
        config["pii_watch"] = {"mode": mode, "skip": skip}
    return config


def unprotected_source_problems(job: Job) -> list[Problem]:
    """A classified asset read by a tap that cannot apply column policies (a plugin whose tap
    is not built on dativo_singer's core): refused, so no raw classified value is piped."""
    if job.source_plugin.applies_column_policies:
        return []
    fields = protected_fields(job.asset, load_policy(job.home))
    if not fields:
        return []
    return [
        Problem(
            job.file,
            "source_connector",
            f"{job.source_entry.name!r} does not apply column policies, and the asset "
            f"{job.asset.name} hashes, masks or drops {', '.join(fields)}: refused, so that no raw "
            "classified value reaches the target (a source plugin sets applies_column_policies "
            "when its tap applies them)",
        )
    ]
