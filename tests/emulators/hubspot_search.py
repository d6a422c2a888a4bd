"""HubSpot's CRM search semantics for the emulator: datetime values, filters, one sort."""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any

TIME_PROPERTIES = frozenset({"createdate", "lastmodifieddate", "hs_lastmodifieddate", "closedate"})
NUMBER_PROPERTIES = frozenset({"hs_object_id", "amount", "annualrevenue", "numberofemployees"})


def iso(ms: int) -> str:
    """Epoch milliseconds as HubSpot writes datetimes (``2024-01-01T00:00:00.000Z``)."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@functools.lru_cache(maxsize=65_536)
def parse_ms(value: str) -> int:
    """A datetime value: epoch milliseconds (what filters usually send) or ISO 8601."""
    if value.isdigit():
        return int(value)
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def _typed(name: Any, text: Any) -> Any:
    if name in TIME_PROPERTIES:
        return parse_ms(str(text))
    return float(text) if name in NUMBER_PROPERTIES else str(text)


def matches(record: dict[str, Any], condition: dict[str, Any]) -> bool:
    """One filter (EQ, NEQ, GT, GTE, LT, LTE, BETWEEN, IN, HAS_PROPERTY, NOT_HAS_PROPERTY)."""
    name, op = condition.get("propertyName"), condition.get("operator", "EQ")
    raw = record["properties"].get(name) if name != "id" else record["id"]
    if op == "HAS_PROPERTY":
        return raw not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return raw in (None, "")
    if raw in (None, ""):
        return False
    actual = _typed(name, raw)
    if op == "IN":
        return actual in [_typed(name, v) for v in condition.get("values", [])]
    if op == "BETWEEN":
        return bool(_typed(name, condition["value"]) <= actual <= _typed(name, condition["highValue"]))
    target = _typed(name, condition.get("value"))
    return bool(
        {
            "EQ": actual == target,
            "NEQ": actual != target,
            "GT": actual > target,
            "GTE": actual >= target,
            "LT": actual < target,
            "LTE": actual <= target,
        }[op]
    )


def query(
    records: list[dict[str, Any]], groups: list[dict[str, Any]], sorts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Records matching any filter group (filters within a group ANDed), in the sort's order
    (ties by id), else by id."""
    items = [
        r
        for r in records
        if not groups or any(all(matches(r, f) for f in g.get("filters") or []) for g in groups)
    ]
    if sorts:
        name = sorts[0].get("propertyName")
        descending = sorts[0].get("direction") == "DESCENDING"

        def sort_key(r: dict[str, Any]) -> tuple[Any, int]:
            raw = r["properties"].get(name) or ""
            return (parse_ms(raw) if raw and name in TIME_PROPERTIES else raw, int(r["id"]))

        items.sort(key=sort_key, reverse=descending)
    else:
        items.sort(key=lambda r: int(r["id"]))
    return items
