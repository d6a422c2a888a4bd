"""Asset specs-as-code: the dataset's schema, governance and target settings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dativo_runner.config_models import AssetGovernance, AssetTarget, parse
from dativo_runner.errors import ConfigError, Problem
from dativo_runner.schema_validation import validate_document
from dativo_runner.yaml_io import load_yaml

_DECIMAL = re.compile(r"^decimal\((\d+), ?(\d+)\)$")

_SIMPLE_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "int": {"type": "integer"},
    "long": {"type": "integer"},
    "number": {"type": "number"},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "string", "format": "date-time"},
    "datetime": {"type": "string", "format": "date-time"},
    "time": {"type": "string", "format": "time"},
    "json": {},
    "object": {"type": "object"},
    "array": {"type": "array"},
}


def json_schema_of_type(type_name: str) -> dict[str, Any]:
    """The JSON Schema property (without null) of an asset field type."""
    match = _DECIMAL.match(type_name)
    if match:
        precision, scale = int(match.group(1)), int(match.group(2))
        step = f"1e-{scale}" if scale else "1"
        return {
            "type": "number",
            "multipleOf": float(step),
            "maximum": float(10 ** (precision - scale)) - float(step),
        }
    return dict(_SIMPLE_TYPES[type_name])


def _nullable(prop: dict[str, Any]) -> dict[str, Any]:
    if "type" not in prop:
        return prop
    return {**prop, "type": [prop["type"], "null"]}


@dataclass(frozen=True)
class FieldSpec:
    """One column of an asset (object fields may declare sub-fields, arrays an item type)."""

    name: str
    type: str
    required: bool = False
    classification: str | None = None
    description: str | None = None
    fields: tuple[FieldSpec, ...] = ()
    items: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldSpec:
        """Build from an asset YAML field entry."""
        return cls(
            name=data["name"],
            type=data["type"],
            required=bool(data.get("required", False)),
            classification=data.get("classification"),
            description=data.get("description"),
            fields=tuple(cls.from_dict(sub) for sub in data.get("fields") or ()),
            items=data.get("items"),
        )

    def json_schema(self) -> dict[str, Any]:
        """The Singer JSON Schema property of this field."""
        prop = json_schema_of_type(self.type)
        if self.items:
            prop["items"] = json_schema_of_type(self.items)
        if self.fields:
            properties = {sub.name: sub.json_schema() for sub in self.fields}
            if self.type == "array":  # the fields of the array's objects
                prop["items"] = {"type": "object", "properties": properties}
            else:
                prop["properties"] = properties
        if self.description:
            prop["description"] = self.description
        return prop if self.required else _nullable(prop)


@dataclass(frozen=True)
class AssetSpec:
    """A dataset spec: name, source object, version, fields, governance and target settings."""

    file: str
    name: str
    source_type: str
    object: str
    version: str
    fields: tuple[FieldSpec, ...]
    primary_key: tuple[str, ...] = ()
    governance: AssetGovernance = field(default_factory=AssetGovernance)
    target: AssetTarget = field(default_factory=AssetTarget)

    def json_schema(self) -> dict[str, Any]:
        """The Singer stream schema of this asset."""
        properties = {spec.name: spec.json_schema() for spec in self.fields}
        required = [f.name for f in self.fields if f.required]
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        return schema


OWNER_PLACEHOLDER = "TODO-owner@example.com"  # what `dativo generate config` writes


def placeholder_warnings(asset: AssetSpec) -> list[str]:
    """Governance values still at the placeholder `dativo generate config` wrote (they validate,
    but name nobody): one warning each, naming the file and field."""
    owner = (asset.governance.owner or "").strip()
    if owner.lower() != OWNER_PLACEHOLDER.lower():
        return []
    return [
        f"{asset.file}: governance.owner: {owner} is the placeholder `dativo generate config` "
        "writes; set the dataset's owner"
    ]


def load_asset(path: Path, display: str) -> AssetSpec:
    """Read and check an asset file; every problem of the file is reported together."""
    data = load_yaml(path, display=display)
    problems = validate_document("asset", data, display)
    if problems:
        raise ConfigError(problems)
    body = data["asset"]
    fields = tuple(FieldSpec.from_dict(f) for f in body["schema"])
    names = [f.name for f in fields]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(Problem(display, "asset.schema", f"field {name!r} is declared twice"))
    for key in body.get("primary_key") or ():
        if key not in names:
            problems.append(Problem(display, "asset.primary_key", f"{key!r} is not a schema field"))
    for index, spec in enumerate(fields):
        match = _DECIMAL.match(spec.type)
        if match and not 0 < int(match.group(2)) + 1 <= int(match.group(1)) + 1 <= 39:
            problems.append(
                Problem(
                    display,
                    f"asset.schema[{index}].type",
                    f"{spec.type} needs scale <= precision, 1 <= precision <= 38",
                )
            )
    if problems:
        raise ConfigError(problems)
    return AssetSpec(
        file=display,
        name=body["name"],
        source_type=body["source_type"],
        object=body["object"],
        version=body["version"],
        fields=fields,
        primary_key=tuple(body.get("primary_key") or ()),
        governance=parse(AssetGovernance, body.get("governance") or {}),
        target=parse(AssetTarget, body.get("target") or {}),
    )


def find_asset_file(assets_dir: Path, source_type: str, asset_name: str) -> Path | None:
    """Conventional location: ``assets/<source>/v<version>/*.yaml`` naming the asset; newest wins."""
    folder = assets_dir / source_type
    if not folder.is_dir():
        return None

    def version_key(path: Path) -> tuple[int, ...]:
        digits = path.parent.name.removeprefix("v").split(".")
        return tuple(int(d) for d in digits if d.isdigit())

    candidates = []
    for path in folder.glob("v*/*.yaml"):
        if not path.resolve().is_relative_to(assets_dir.resolve()):
            continue  # a symlink pointing out of the home's assets is never read
        try:
            data = load_yaml(path)
        except ConfigError:
            continue
        if (data.get("asset") or {}).get("name") == asset_name:
            candidates.append(path)
    return max(candidates, key=version_key) if candidates else None
