"""Drive v3 ``q`` search syntax, the part the emulator needs: ``'ID' in parents``, comparisons of
``name``, ``mimeType``, ``modifiedTime``, ``trashed`` (``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``),
``name contains 'x'``, ``and`` / ``or`` / ``not`` and parentheses. Anything else is a 400, as
Google answers ``Invalid Value`` for a query it cannot parse."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<op><=|>=|!=|=|<|>|\(|\))|(?P<word>[A-Za-z]+))")
_FIELDS = ("name", "mimeType", "modifiedTime", "trashed", "createdTime")

Predicate = Callable[[dict[str, Any]], bool]


class QueryError(ValueError):
    """The query does not parse."""


def _tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise QueryError(f"cannot parse q at {text[position:position + 20]!r}")
        kind = match.lastgroup or ""
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        found.append((kind, value))
        position = match.end()
    return found


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if left is None:
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise QueryError("q ends too early")
        self.at += 1
        return token

    def expression(self) -> Predicate:
        left = self.conjunction()
        while self.peek() == ("word", "or"):
            self.take()
            right, first = self.conjunction(), left
            left = lambda f, a=first, b=right: a(f) or b(f)  # noqa: E731
        return left

    def conjunction(self) -> Predicate:
        left = self.unary()
        while self.peek() == ("word", "and"):
            self.take()
            right, first = self.unary(), left
            left = lambda f, a=first, b=right: a(f) and b(f)  # noqa: E731
        return left

    def unary(self) -> Predicate:
        if self.peek() == ("word", "not"):
            self.take()
            inner = self.unary()
            return lambda f: not inner(f)
        if self.peek() == ("op", "("):
            self.take()
            inner = self.expression()
            if self.take() != ("op", ")"):
                raise QueryError("missing )")
            return inner
        return self.term()

    def term(self) -> Predicate:
        kind, value = self.take()
        if kind == "str":  # 'ID' in parents
            if self.take() != ("word", "in") or self.take() != ("word", "parents"):
                raise QueryError("expected 'ID' in parents")
            return lambda f, v=value: v in f.get("parents", [])
        if kind != "word" or value not in _FIELDS:
            raise QueryError(f"unknown field {value!r}")
        field = value
        op_kind, op = self.take()
        if op_kind == "word" and op == "contains":
            _, needle = self.take()
            return lambda f: needle in str(f.get(field, ""))
        if op_kind != "op":
            raise QueryError(f"expected an operator after {field}")
        right_kind, right = self.take()
        operand: Any = right if right_kind == "str" else {"true": True, "false": False}.get(right)
        if operand is None:
            raise QueryError(f"expected a quoted value after {field} {op}")
        return lambda f: _compare(f.get(field), op, operand)


def compile_query(text: str) -> Predicate:
    """A predicate over file resources for a Drive ``q`` string."""
    if not text.strip():
        return lambda f: True
    parser = _Parser(text)
    predicate = parser.expression()
    if parser.peek() is not None:
        raise QueryError(f"unexpected {parser.peek()[1]!r}")  # type: ignore[index]
    return predicate
