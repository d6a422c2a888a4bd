"""Secrets never become names: which job fields name things (paths, prefixes, keys, namespaces,
tables) and which ``${VAR}`` may be interpolated into them.

A tenant secret may never be; an environment variable only when ``runner.naming_variables`` in
``configs/runner.yaml`` lists it and its name does not look like a secret's. ``${VAR:-default}``
with ``VAR`` unset uses the literal default, which is always allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dativo_runner.errors import Problem
from dativo_runner.secrets import Redactor, looks_secret

#: A field is a naming field when one of its keys (list indices aside) is one of these.
NAMING_KEYS = frozenset(
    {
        "asset",
        "asset_path",
        "source_connector_path",
        "target_connector_path",
        "secrets_dir",
        "state_dir",
        "path",
        "paths",
        "prefix",
        "key_template",
        "namespace",
        "table",
        "table_names",
        "warehouse",
        "branch",
        "objects",
        "partitioning",
    }
)
_INDEX = re.compile(r"\[\d+\]")


def is_naming_field(where: str) -> bool:
    """True for ``source.files[0].path``, ``target.namespace``, ``target.connection.s3.prefix``..."""
    return any(part in NAMING_KEYS for part in _INDEX.sub("", where).split("."))


def naming_problems(
    uses: Iterable[tuple[str, str, str]],
    fields: tuple[dict[str, str], dict[str, str]],
    allowed: Iterable[str],
    file: str,
    redactor: Redactor,
) -> list[Problem]:
    """One problem per naming field that took a secret or a variable not allowed for naming.
    ``fields`` maps each field to its text as written and as resolved: a secret's field is shown
    resolved and redacted, another variable's as written (its value is never shown)."""
    written, resolved = fields
    allowed_names = {name for name in allowed if not looks_secret(name)}
    problems: list[Problem] = []
    seen: set[str] = set()
    for where, name, kind in uses:
        if where in seen or not is_naming_field(where):
            continue
        if kind == "env" and name in allowed_names:
            continue
        seen.add(where)
        shown = written.get(where, "")
        if kind == "secret":
            why = "a tenant secret"
            masked = redactor.redact(resolved.get(where, ""))
            shown = masked if masked != resolved.get(where) else shown  # as the other lines show it
        elif looks_secret(name):
            why = "an environment variable named as a secret"
        else:
            why = "an environment variable not listed in runner.naming_variables (configs/runner.yaml)"
        message = (
            f"{shown!r} would put ${{{name}}}, {why}, into a name: secrets and unlisted variables "
            "never become paths, prefixes, keys, namespaces or table names"
        )
        problems.append(Problem(file, where, message))
    return problems


def field_values(data: object, where: str = "") -> dict[str, str]:
    """Every string of ``data`` by its field (``a.b[0].c``), as the interpolator names them."""
    if isinstance(data, str):
        return {where: data}
    found: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            found.update(field_values(value, f"{where}.{key}" if where else str(key)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.update(field_values(value, f"{where}[{index}]"))
    return found
