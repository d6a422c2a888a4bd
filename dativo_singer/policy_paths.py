"""Column policies by path: which value of a record a policy protects, at any depth.

A policy key names a top-level column (``owner_email``), a field of an object (``profile.email``)
or a field of the objects in an array (``contacts[].email``). The keys become a *tree*
(``{"profile": {"email": "hash"}}``, ``{"contacts": {"[]": {"email": "hash"}}}``) that the
Arrow code (``dativo_singer.policy``), the RECORD path (``protect_record``) and the SCHEMA
rewrite (``protect_schema``) walk the same way, so both paths give the same values.

A hashed value is the hex SHA-256 of the salt followed by the value's text: ``str(value)`` of
the typed value (what a target computed from its Arrow column), objects and arrays as compact
JSON; a date-time string is read as the timestamp it is first, so both paths agree.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from typing import Any

from dativo_singer.errors import FatalError

ACTIONS = ("allow", "hash", "mask", "drop")
PROTECTING = frozenset({"hash", "mask", "drop"})
MASK = "****"
ITEMS = "[]"  # a tree key: the policy applies to each element of an array

PolicyTree = dict[str, Any]  # name → action, or name → sub-tree


def check_policies(policies: dict[str, str]) -> None:
    """Unknown actions and empty path parts are a configuration error."""
    for column, action in policies.items():
        if action not in ACTIONS:
            raise FatalError(f"column policy for {column!r}: unknown action {action!r}")
        if any(not part for part in _parts(column)):
            raise FatalError(f"column policy for {column!r}: empty field name in the path")


def _parts(key: str) -> list[str]:
    parts: list[str] = []
    for part in key.split("."):
        if part.endswith(ITEMS) and part != ITEMS:
            parts += [part[: -len(ITEMS)], ITEMS]
        else:
            parts.append(part)
    return parts


def policy_tree(policies: dict[str, str]) -> PolicyTree:
    """The policies that change values, as a tree of paths (``allow`` left out)."""
    tree: PolicyTree = {}
    for key, action in policies.items():
        if action not in PROTECTING:
            continue
        node = tree
        *parents, leaf = _parts(key)
        for part in parents:
            child = node.get(part)
            if isinstance(child, str):  # the whole value is already protected
                break
            node = node.setdefault(part, {})
        else:
            node[leaf] = action
    return tree


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
    return str(value)


def hash_text(text: str, salt: str) -> str:
    """The salted SHA-256 (hex) of a value's text."""
    return hashlib.sha256(salt.encode() + text.encode()).hexdigest()


def hash_value(value: Any, salt: str) -> str:
    """The salted SHA-256 (hex) of a typed value (see the module docstring)."""
    return hash_text(_text(value), salt)


def _timestamp_text(value: str) -> str:
    """A date-time string as ``str`` of the UTC-aware timestamp a target types it as."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return str(parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc))


def protect_value(value: Any, action: str, salt: str, prop: dict[str, Any] | None = None) -> Any:
    """One value under ``hash`` or ``mask`` (None stays None)."""
    if value is None:
        return None
    if action == "mask":
        return MASK
    if isinstance(value, str) and (prop or {}).get("format") == "date-time":
        return hash_text(_timestamp_text(value), salt)
    return hash_value(value, salt)


def _properties(prop: dict[str, Any] | None) -> dict[str, Any]:
    return dict((prop or {}).get("properties") or {})


def protect_record(
    record: dict[str, Any], tree: PolicyTree, salt: str, schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A copy of ``record`` with the tree's values hashed, masked or dropped, at every depth.
    An object given as JSON text is protected inside and given back as JSON text."""
    out = dict(record)
    props = _properties(schema)
    for name, rule in tree.items():
        if name not in out:
            continue
        if isinstance(rule, str):
            if rule == "drop":
                del out[name]
            else:
                out[name] = protect_value(out[name], rule, salt, props.get(name))
        else:
            out[name] = _protect_nested(out[name], rule, salt, props.get(name))
    return out


def _protect_nested(value: Any, tree: PolicyTree, salt: str, prop: dict[str, Any] | None) -> Any:
    """A value holding classified fields. One whose fields cannot be told apart (text that is
    not a JSON object or array, a scalar where an object belongs) is hashed whole."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return hash_value(value, salt)
        if not isinstance(parsed, dict | list):
            return hash_value(value, salt)
        return _text(_protect_nested(parsed, tree, salt, prop))
    if isinstance(value, dict):
        return protect_record(value, tree, salt, prop)
    if isinstance(value, list):
        items = (prop or {}).get("items")
        rule = tree.get(ITEMS)
        if rule is None:  # fields of an object, given an array
            return [_protect_nested(v, tree, salt, items) for v in value]
        if isinstance(rule, str):
            return None if rule == "drop" else [protect_value(v, rule, salt, items) for v in value]
        return [_protect_nested(v, rule, salt, items) for v in value]
    return hash_value(value, salt)


def _nullable_string(prop: dict[str, Any] | None) -> dict[str, Any]:
    protected: dict[str, Any] = {"type": ["string", "null"]}
    if prop and prop.get("description"):
        protected["description"] = prop["description"]
    return protected


def protect_schema(schema: dict[str, Any], tree: PolicyTree) -> dict[str, Any]:
    """The JSON Schema of protected records: hashed and masked values are strings, dropped
    fields are gone (from ``required`` too)."""
    out = copy.deepcopy(schema)
    _protect_schema_in_place(out, tree)
    return out


def _protect_schema_in_place(schema: dict[str, Any], tree: PolicyTree) -> None:
    props = schema.get("properties")
    if ITEMS in tree and isinstance(schema.get("items"), dict):
        rule = tree[ITEMS]
        if isinstance(rule, str):
            schema["items"] = _nullable_string(schema["items"])
        else:
            _protect_schema_in_place(schema["items"], rule)
    if not isinstance(props, dict):
        return
    for name, rule in tree.items():
        if name == ITEMS or name not in props:
            continue
        if rule == "drop":
            del props[name]
            if isinstance(schema.get("required"), list):
                schema["required"] = [r for r in schema["required"] if r != name]
        elif isinstance(rule, str):
            props[name] = _nullable_string(props[name])
        elif isinstance(props[name], dict):
            _protect_schema_in_place(props[name], rule)
