"""Rejected records, written as JSON lines with the reason, before the batch is committed."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from dativo_singer.conversion import Rejected
from dativo_singer.exact_json import exact_json
from dativo_singer.policy_paths import ITEMS, PolicyTree, policy_tree, protect_record

HIDDEN = "<classified>"  # in a reason, in place of a classified value it quoted


def write_dead_letters(folder: str, stream: str, rejected: list[Rejected]) -> Path:
    """Write ``<folder>/<stream>/<utc time>-<id>.jsonl``; one line per record:
    ``{"stream", "reason", "record"}``, and ``"raw"``: the RECORD message line as it came, when
    it came as a line. Numbers in ``record`` are exact (integers of any size, decimals' digits).
    Returns the file path. Records hold no raw classified value: ``protect_rejected`` first."""
    directory = Path(folder) / stream
    directory.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    path = directory / f"{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
    with path.open("wb") as handle:
        for item in rejected:
            entry: dict[str, object] = {"stream": stream, "reason": item.reason, "record": item.record}
            if item.raw is not None:
                entry["raw"] = item.raw.decode("utf-8", errors="replace")
            handle.write(exact_json(entry))
            handle.write(b"\n")
    return path


def _classified_values(value: Any, rule: str | PolicyTree) -> list[Any]:
    """The raw values a policy rule protects inside ``value`` (leaves, at any depth)."""
    if value is None:
        return []
    if isinstance(rule, str):
        return [value]
    if isinstance(value, dict):
        found = [_classified_values(value[name], sub) for name, sub in rule.items() if name in value]
        return [v for values in found for v in values]
    if isinstance(value, list) and ITEMS in rule:
        return [v for item in value for v in _classified_values(item, rule[ITEMS])]
    return []


def _scrub(reason: str, raw_values: list[Any]) -> str:
    for value in raw_values:
        if isinstance(value, bool):
            continue
        for text in (repr(value), str(value)):  # quoted first; bare only when not a short word
            if len(text) >= 4:
                reason = reason.replace(text, HIDDEN)
    return reason


def protect_rejected(rejected: list[Rejected], policies: dict[str, str], salt: str) -> list[Rejected]:
    """Rejected records with their classified values hashed, masked or dropped as the policies
    say, the raw line left out and any classified value a reason quotes replaced by
    ``<classified>``; unclassified fields and the rest of the reason are kept."""
    tree = policy_tree(policies)
    if not tree:
        return rejected
    protected = []
    for item in rejected:
        record = item.record if isinstance(item.record, dict) else {}
        raw_values = _classified_values(record, tree)
        protected.append(
            Rejected(protect_record(record, tree, salt), _scrub(item.reason, raw_values), None)
        )
    return protected
