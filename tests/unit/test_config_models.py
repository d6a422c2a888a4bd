"""The typed configuration models match the JSON Schemas property for property (so neither can
drift from the other), and read validated documents as the loader sees them."""

from __future__ import annotations

import json
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest

from dativo_runner import config_models as m
from dativo_runner.yaml_io import load_yaml

SCHEMAS = Path(m.__file__).parent / "schemas"
REPO = Path(__file__).resolve().parents[2]
#: (schema, path of properties to the object, model of that object)
ROOTS = [
    ("job", (), m.JobFile),
    ("connector", ("connector",), m.RecipeBody),
    ("runner", ("runner",), m.RunnerSettings),
    ("asset", ("asset", "governance"), m.AssetGovernance),
    ("asset", ("asset", "target"), m.AssetTarget),
    ("policy", ("policy",), m.PolicySettings),
]


def _nested(hint: Any) -> tuple[type | None, bool]:
    """The model a field holds (directly or as tuple items), and whether it is a tuple of them."""
    hint = m._optional(hint)
    if get_origin(hint) is tuple:
        item = get_args(hint)[0]
        return (item, True) if is_dataclass(item) else (None, True)
    return (hint, False) if isinstance(hint, type) and is_dataclass(hint) else (None, False)


def _differences(model: type, node: dict[str, Any], where: str) -> list[str]:
    """Every property without a field, field without a property, and required/default mismatch."""
    found = []
    properties = node.get("properties") or {}
    hints = m._hints(model)
    declared = {f.name: f for f in fields(model) if not f.metadata.get("extra")}
    for name in sorted(set(properties) - set(declared)):
        found.append(f"{where}.{name}: a schema property {model.__name__} has no field for")
    for name in sorted(set(declared) - set(properties)):
        found.append(f"{where}.{name}: a field of {model.__name__} the schema does not declare")
    for name in sorted(set(declared) & set(properties)):
        item = declared[name]
        required = name in (node.get("required") or [])
        has_default = item.default is not MISSING or item.default_factory is not MISSING
        if required == has_default:
            found.append(
                f"{where}.{name}: required in the schema is {required}, but has a default is {has_default}"
            )
        nested, many = _nested(hints[name])
        prop = properties[name]
        if many and prop.get("type") != "array":
            found.append(f"{where}.{name}: a tuple field for a schema {prop.get('type')}")
        if nested is not None:
            found.extend(_differences(nested, prop["items"] if many else prop, f"{where}.{name}"))
    open_block = any(f.metadata.get("extra") for f in fields(model))
    if open_block == (node.get("additionalProperties") is False):
        found.append(
            f"{where}: extra field is {open_block} but additionalProperties is {node.get('additionalProperties')}"
        )
    return found


@pytest.mark.parametrize("schema, path, model", ROOTS, ids=[r[0] for r in ROOTS])
def test_every_schema_property_has_a_model_field_and_back(
    schema: str, path: tuple[str, ...], model: type
) -> None:
    node = json.loads((SCHEMAS / f"{schema}.schema.json").read_text())
    for key in path:
        node = node["properties"][key]
    assert _differences(model, node, schema + "".join(f".{k}" for k in path)) == []


def test_a_classification_rule_is_the_schema_of_each_classification() -> None:
    node = json.loads((SCHEMAS / "policy.schema.json").read_text())["properties"]["policy"]
    rule = node["properties"]["classifications"]["additionalProperties"]
    assert _differences(m.ClassificationRule, rule, "policy.classifications.*") == []
    read = m.parse(m.PolicySettings, {"classifications": {"PII": {"action": "hash", "salt_env": "S"}}})
    assert read.classifications == {"PII": m.ClassificationRule("hash", "S")}


def test_a_drifted_model_is_reported() -> None:
    node = {
        "properties": {"name": {}, "config": {}, "cron": {}, "enabled": {}, "zone": {}},
        "required": ["name", "config"],
    }
    node["additionalProperties"] = False
    assert _differences(m.ScheduleEntry, node, "s") == [
        "s.zone: a schema property ScheduleEntry has no field for",
        "s.timezone: a field of ScheduleEntry the schema does not declare",
        "s.cron: required in the schema is False, but has a default is False",
    ]


def test_a_job_file_reads_into_typed_blocks() -> None:
    data = load_yaml(REPO / "jobs/acme/postgres_orders_to_iceberg.yaml")
    job = m.parse(m.JobFile, data)
    assert job.tenant_id == "acme" and job.source_connector == "postgres"
    assert job.logging.level == data.get("logging", {}).get("level", "INFO")
    assert list(job.source.objects) == data["source"]["objects"]
    assert job.source.extra == {
        k: v for k, v in data["source"].items() if k not in ("objects", "incremental")
    }
    assert job.source.incremental.given() == data["source"].get("incremental", {})
    assert job.target == data["target"]


def test_runner_settings_read_schedules_and_storage() -> None:
    data = {
        "orchestrator": {
            "type": "dagster",
            "schedules": [{"name": "a", "config": "jobs/a.yaml", "cron": "0 * * * *", "enabled": False}],
            "storage": {"postgres": {"url_env": "DAGSTER_PG"}},
        },
        "naming_variables": ["ENV"],
    }
    runner = m.parse(m.RunnerSettings, data)
    assert runner.orchestrator is not None
    assert runner.orchestrator.schedules == (m.ScheduleEntry("a", "jobs/a.yaml", "0 * * * *", enabled=False),)
    assert runner.orchestrator.storage.postgres == m.PostgresStorage(url_env="DAGSTER_PG")
    assert runner.orchestrator.concurrency_per_tenant == 1
    assert runner.naming_variables == ("ENV",) and runner.allowed_paths == ()
