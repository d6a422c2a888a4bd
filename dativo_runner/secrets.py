"""Secrets and ``${VAR}`` interpolation, and the redactor that keeps secret values out of output."""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dativo_runner.errors import ConfigError, Problem

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
_SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|CONNECTION_STRING|DSN)", re.I)
_MIN_SECRET_LENGTH = 4
#: Secrets at least this long are masked anywhere; shorter ones only where they stand as values.
SAFE_SECRET_LENGTH = 12
MASK = "****"


def _read_text(path: Path) -> str:
    """A secrets file's text; one problem naming the file (never its bytes) when it is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [Problem(str(path), "", f"not UTF-8 text (byte {exc.start}): save the secrets file as UTF-8")]
        ) from None


def _parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(_read_text(path).splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ConfigError([Problem(str(path), f"line {number}", "expected NAME=value")])
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def _parse_json_file(path: Path) -> dict[str, str]:
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise ConfigError([Problem(str(path), f"line {exc.lineno}", "invalid JSON")]) from None
    if not isinstance(data, dict):
        raise ConfigError([Problem(str(path), "", "expected a JSON object")])
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}


def load_tenant_secrets(secrets_dir: Path | None, tenant_id: str) -> dict[str, str]:
    """Every ``NAME=value`` of ``<secrets_dir>/<tenant>/*.env`` and key of ``*.json``."""
    if secrets_dir is None:
        return {}
    folder = secrets_dir / tenant_id
    if not folder.is_dir():
        return {}
    if not folder.resolve().is_relative_to(secrets_dir.resolve()):
        raise ConfigError([Problem(str(folder), "", "links outside the secrets folder: not read")])
    values: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in (".env", ".json") and not path.resolve().is_relative_to(folder.resolve()):
            # another tenant's file linked in, or any file elsewhere: never read, never quoted
            raise ConfigError([Problem(str(path), "", "links outside the tenant's secrets folder: not read")])
        if path.suffix == ".env":
            values.update(_parse_env_file(path))
        elif path.suffix == ".json":
            values.update(_parse_json_file(path))
    return values


@dataclass
class Redactor:
    """Replaces every known secret value in text with a mask.

    A secret of ``SAFE_SECRET_LENGTH`` characters or more is masked wherever it appears. A
    shorter one (an S3 key id such as ``dativo``) could be an ordinary word, so it is masked only
    where it stands as a value: after ``=`` or ``:`` or inside quotes, up to a delimiter, or as a
    whole line; never inside a word or as the program name in ``dativo: error: ...``."""

    secrets: set[str] = field(default_factory=set)
    short: set[str] = field(default_factory=set)
    _short_pattern: re.Pattern[str] | None = field(default=None, repr=False)

    def add(self, value: str) -> None:
        """Remember a value as secret (values under 4 characters are skipped), with the forms it
        takes when escaped: in a Python repr, in JSON, in a URL."""
        if len(value) < _MIN_SECRET_LENGTH:
            return
        forms = {
            value,
            repr(value)[1:-1],
            json.dumps(value)[1:-1],
            json.dumps(json.dumps(value))[1:-1],
            urllib.parse.quote(value, safe=""),
        }
        for form in forms:
            if len(form) >= SAFE_SECRET_LENGTH:
                self.secrets.add(form)
            elif len(form) >= _MIN_SECRET_LENGTH and form not in self.short:
                self.short.add(form)
                self._short_pattern = None

    def _pattern(self) -> re.Pattern[str]:
        if self._short_pattern is None:
            alternatives = "|".join(re.escape(s) for s in sorted(self.short, key=len, reverse=True))
            value = f"(?:{alternatives})"
            self._short_pattern = re.compile(
                rf"(?<=[=:'\"]){value}(?=[\s'\"&;,@)\]}}/\\]|$)"  # key=value, 'value', user:value@
                rf"|(?<=: ){value}(?=['\",;)\]}}]|$)"  # "key: value" at the end of a line
                rf"|^{value}$",  # a whole line
                re.MULTILINE,
            )
        return self._short_pattern

    def redact(self, text: str) -> str:
        """The text with every secret value masked, longest first."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        if self.short and any(s in text for s in self.short):
            text = self._pattern().sub(MASK, text)
        return text


@dataclass
class Interpolator:
    """Resolves ``${VAR}`` and ``${VAR:-default}`` from tenant secrets, then the environment."""

    secrets: Mapping[str, str]
    environ: Mapping[str, str]
    redactor: Redactor
    #: Every reference resolved: (field, variable, "secret" | "env"), for naming_problems.
    uses: list[tuple[str, str, str]] = field(default_factory=list)
    #: Every reference met: (field, variable, set), to name the variable behind a field in errors.
    references: list[tuple[str, str, bool]] = field(default_factory=list)

    def _lookup(self, name: str, where: str) -> str | None:
        if name in self.secrets:
            value = self.secrets[name]
            self.redactor.add(value)
            self.uses.append((where, name, "secret"))
            return value
        if name in self.environ:
            value = self.environ[name]
            if _SECRET_NAME.search(name):
                self.redactor.add(value)
            self.uses.append((where, name, "env"))
            return value
        return None

    def _resolve_text(self, text: str, where: str, problems: list[Problem], file: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            value = self._lookup(name, where)
            self.references.append((where, name, value is not None))
            if value is not None:
                return value
            if default is not None:
                return default
            problems.append(Problem(file, where, f"${{{name}}} is not set (environment or secrets)"))
            return match.group(0)

        return _REFERENCE.sub(substitute, text)

    def resolve(self, data: Any, file: str, where: str = "") -> tuple[Any, list[Problem]]:
        """A copy of ``data`` with every reference resolved, and a problem per unresolved one."""
        problems: list[Problem] = []
        return self._walk(data, where, problems, file), problems

    def _walk(self, data: Any, where: str, problems: list[Problem], file: str) -> Any:
        if isinstance(data, str):
            return self._resolve_text(data, where, problems, file)
        if isinstance(data, dict):
            return {
                k: self._walk(v, f"{where}.{k}" if where else str(k), problems, file) for k, v in data.items()
            }
        if isinstance(data, list):
            return [self._walk(v, f"{where}[{i}]", problems, file) for i, v in enumerate(data)]
        return data


def looks_secret(name: str) -> bool:
    """True for a variable whose name says it holds a secret (``*_KEY``, ``*TOKEN*``...)."""
    return bool(_SECRET_NAME.search(name))


def default_interpolator(secrets: Mapping[str, str], redactor: Redactor) -> Interpolator:
    """An interpolator over the given secrets and the process environment."""
    return Interpolator(secrets=secrets, environ=dict(os.environ), redactor=redactor)
