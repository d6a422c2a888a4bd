"""A loopback emulator of HubSpot's CRM v3 API, after HubSpot's API reference.

- ``GET /crm/v3/objects/{type}?limit&after&properties&archived``: ``{"results", "paging":
  {"next": {"after", "link"}}}``, at most 100 per page, ids ascending;
- ``POST /crm/v3/objects/{type}/search``: ``filterGroups`` (OR of ANDed filters: EQ, NEQ, GT, GTE,
  LT, LTE, BETWEEN, IN, HAS_PROPERTY, NOT_HAS_PROPERTY), one sort, ``limit`` up to 200, ``after``
  an offset; ``{"total", "results", "paging"}``; no more than 10,000 results per query (a page
  past it is a 400);
- ``GET /crm/v3/properties/{type}``, ``GET /crm/v3/owners``, ``GET /crm/v3/pipelines/{type}``,
  ``POST /crm/v4/associations/{from}/{to}/batch/read``;
- bearer private-app tokens, error bodies ``{"status": "error", "message", "correlationId",
  "category"}``, and the ``X-HubSpot-RateLimit-*`` headers on every answer.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any

from tests.emulators.hubspot_search import iso, query
from tests.emulators.server import Emulator, Request, Response

TOKEN = "pat-na1-7f3e2a10-5b6c-4d8e-9f01-23456789abcd"
SEARCH_CAP = 10_000
BASE_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z

PROPERTIES: dict[str, list[tuple[str, str, str]]] = {  # name, type, fieldType
    "contacts": [
        ("email", "string", "text"),
        ("firstname", "string", "text"),
        ("lastname", "string", "text"),
        ("phone", "string", "phonenumber"),
        ("lifecyclestage", "enumeration", "radio"),
        ("hs_email_optout", "bool", "booleancheckbox"),
        ("annualrevenue", "number", "number"),
        ("date_of_birth", "date", "date"),
        ("createdate", "datetime", "date"),
        ("lastmodifieddate", "datetime", "date"),
        ("hs_object_id", "number", "number"),
    ],
    "companies": [
        ("name", "string", "text"),
        ("domain", "string", "text"),
        ("industry", "enumeration", "select"),
        ("numberofemployees", "number", "number"),
        ("annualrevenue", "number", "number"),
        ("createdate", "datetime", "date"),
        ("hs_lastmodifieddate", "datetime", "date"),
        ("hs_object_id", "number", "number"),
    ],
    "deals": [
        ("dealname", "string", "text"),
        ("amount", "number", "number"),
        ("dealstage", "enumeration", "radio"),
        ("pipeline", "enumeration", "select"),
        ("closedate", "datetime", "date"),
        ("createdate", "datetime", "date"),
        ("hs_lastmodifieddate", "datetime", "date"),
        ("hs_object_id", "number", "number"),
    ],
}
MODIFIED = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
DEFAULT_PROPERTIES = {
    "contacts": ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"],
    "companies": ["createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"],
    "deals": [
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ],
}
ASSOCIATION_TYPES = {("contacts", "companies"): 1, ("contacts", "deals"): 4, ("deals", "companies"): 5}


def _error(status: int, message: str, category: str, **extra: Any) -> Response:
    body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
    body.update(extra)
    return Response(status, body)


class HubSpotEmulator(Emulator):
    """Seeded CRM data: ``counts`` records per object type, modified a second apart."""

    def __init__(self, counts: dict[str, int] | None = None, seed: int = 3, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.interval_ms = 10_000
        self.max_per_interval = 190
        self.daily_remaining = 500_000
        self.retry_after: int | None = None  # a Retry-After on 429s, when set
        self.version = 0  # bumped by every change: cached search results are dropped
        self._search_cache: dict[Any, list[dict[str, Any]]] = {}
        rng = random.Random(seed)
        counts = counts or {"contacts": 30, "companies": 10, "deals": 15}
        self.records: dict[str, list[dict[str, Any]]] = {}
        for kind in PROPERTIES:
            self.records[kind] = [self._make(kind, i, rng) for i in range(counts.get(kind, 0))]
        self.associations: dict[tuple[str, str], dict[str, list[str]]] = {}
        for (source, target), _type in ASSOCIATION_TYPES.items():
            targets = [r["id"] for r in self.records[target]]
            links: dict[str, list[str]] = {}
            if targets:
                for record in self.records[source]:
                    if rng.random() < 0.6:
                        links[record["id"]] = sorted(set(rng.sample(targets, min(len(targets), 2))), key=int)
            self.associations[(source, target)] = links
        self.owners = [
            {
                "id": str(100 + i),
                "email": f"owner{i}@example.com",
                "firstName": f"Owner{i}",
                "lastName": "Smith",
                "userId": 9000 + i,
                "createdAt": iso(BASE_MS),
                "updatedAt": iso(BASE_MS + i),
                "archived": False,
                "teams": [{"id": "1", "name": "Sales", "primary": True}],
            }
            for i in range(7)
        ]

    def _make(self, kind: str, index: int, rng: random.Random) -> dict[str, Any]:
        object_id = str(1000 + index * 3)
        created = BASE_MS + index * 1000
        values: dict[str, str | None] = {
            "createdate": iso(created),
            MODIFIED[kind]: iso(created + 500),
            "hs_object_id": object_id,
        }
        if kind == "contacts":
            values.update(
                email=f"contact{index}@example.com",
                firstname=f"First{index}",
                lastname="Doe",
                phone=None if index % 5 == 0 else f"+1555{index:07d}",
                lifecyclestage=rng.choice(["lead", "customer", "subscriber"]),
                hs_email_optout=rng.choice(["true", "false"]),
                annualrevenue=str(rng.randrange(0, 10**6)),
                date_of_birth="1990-05-17",
            )
        elif kind == "companies":
            values.update(
                name=f"Company {index}",
                domain=f"company{index}.example",
                industry="COMPUTER_SOFTWARE",
                numberofemployees=str(rng.randrange(1, 5000)),
                annualrevenue=f"{rng.randrange(10**7)}.50",
            )
        else:
            values.update(
                dealname=f"Deal {index}",
                amount=f"{rng.randrange(100, 10**6)}.25",
                dealstage=rng.choice(["appointmentscheduled", "closedwon"]),
                pipeline="default",
                closedate=iso(created + 86_400_000),
            )
        return {
            "id": object_id,
            "properties": values,
            "createdAt": iso(created),
            "updatedAt": iso(created + 500),
            "archived": False,
        }

    # -- helpers for tests --------------------------------------------------------------------------

    def update(self, kind: str, object_id: str, changes: dict[str, str], at_ms: int | None = None) -> None:
        """Change a record's properties; its last-modified date becomes now (or ``at_ms``)."""
        with self.lock:
            record = next(r for r in self.records[kind] if r["id"] == object_id)
            stamp = iso(at_ms or int(time.time() * 1000))
            record["properties"].update(changes, **{MODIFIED[kind]: stamp})
            record["updatedAt"] = stamp
            self.version += 1

    def create(self, kind: str) -> str:
        """A new record created (and so last modified) now; its id."""
        with self.lock:
            record = self._make(kind, len(self.records[kind]), random.Random(len(self.records[kind])))
            stamp = iso(int(time.time() * 1000))
            record["properties"].update(createdate=stamp, **{MODIFIED[kind]: stamp})
            record["createdAt"] = record["updatedAt"] = stamp
            self.records[kind].append(record)
            self.version += 1
            return str(record["id"])

    def touch(self, kind: str, count: int, start_ms: int | None = None) -> list[str]:
        """Modify the first ``count`` records, one millisecond apart from ``start_ms`` (now)."""
        start = start_ms or int(time.time() * 1000)
        ids = []
        with self.lock:
            for offset, record in enumerate(self.records[kind][:count]):
                stamp = iso(start + offset)
                record["properties"][MODIFIED[kind]] = stamp
                record["updatedAt"] = stamp
                ids.append(record["id"])
            self.version += 1
        return ids

    # -- the API --------------------------------------------------------------------------------------

    def _rate_headers(self) -> dict[str, str]:
        self.daily_remaining = max(0, self.daily_remaining - 1)
        return {
            "X-HubSpot-RateLimit-Daily": "500000",
            "X-HubSpot-RateLimit-Daily-Remaining": str(self.daily_remaining),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.interval_ms),
            "X-HubSpot-RateLimit-Max": str(self.max_per_interval),
            "X-HubSpot-RateLimit-Remaining": str(self.max_per_interval - 1),
        }

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "429":
            if self.daily_remaining <= 0:
                response = _error(
                    429,
                    "You have reached your daily limit.",
                    "RATE_LIMITS",
                    errorType="RATE_LIMIT",
                    policyName="DAILY",
                )
            else:
                response = _error(
                    429,
                    "You have reached your ten_secondly_rolling limit.",
                    "RATE_LIMITS",
                    errorType="RATE_LIMIT",
                    policyName="TEN_SECONDLY_ROLLING",
                )
            response.headers.update(self._rate_headers(), **{"X-HubSpot-RateLimit-Remaining": "0"})
            if self.retry_after is not None:
                response.headers["Retry-After"] = str(self.retry_after)
            return response
        return _error(int(kind), "internal error", "INTERNAL_ERROR")

    def handle(self, request: Request) -> Response:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or header[7:] != self.token:
            return _error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        if self.daily_remaining <= 0:
            return self.fault_response("429", request)
        response = self._route(request)
        response.headers.update(self._rate_headers())
        return response

    def _route(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if parts[:3] == ["crm", "v3", "objects"] and len(parts) >= 4:
            kind = parts[3]
            if kind not in self.records:
                return _error(404, f"Unable to infer object type from: {kind}", "OBJECT_NOT_FOUND")
            if len(parts) == 5 and parts[4] == "search" and request.method == "POST":
                return self._search(kind, request.body or {})
            if len(parts) == 4 and request.method == "GET":
                return self._list(kind, request)
        if parts[:3] == ["crm", "v3", "properties"] and len(parts) == 4 and parts[3] in PROPERTIES:
            return Response(
                200,
                {
                    "results": [
                        {
                            "name": n,
                            "label": n.title(),
                            "type": t,
                            "fieldType": f,
                            "groupName": "info",
                            "hidden": False,
                            "calculated": False,
                            "hasUniqueValue": n == "hs_object_id",
                        }
                        for n, t, f in PROPERTIES[parts[3]]
                    ]
                },
            )
        if parts[:3] == ["crm", "v3", "owners"]:
            return self._page(self.owners, request, "/crm/v3/owners")
        if parts[:3] == ["crm", "v3", "pipelines"] and len(parts) == 4:
            return Response(200, {"results": self._pipelines(parts[3])})
        if parts[:3] == ["crm", "v4", "associations"] and len(parts) == 7 and parts[5:] == ["batch", "read"]:
            return self._associations(parts[3], parts[4], request.body or {})
        return _error(404, f"Unknown path {request.path}", "OBJECT_NOT_FOUND")

    def _limit(self, text: str | None, default: int, maximum: int) -> int | Response:
        if text is None:
            return default
        if not str(text).isdigit() or not 1 <= int(text) <= maximum:
            return _error(400, f"limit must be between 1 and {maximum}", "VALIDATION_ERROR")
        return int(text)

    def _page(self, items: list[dict[str, Any]], request: Request, path: str) -> Response:
        limit = self._limit(request.param("limit"), 10, 100)
        if isinstance(limit, Response):
            return limit
        after = request.param("after")
        start = 0
        if after:
            start = next((i for i, r in enumerate(items) if int(r["id"]) >= int(after)), len(items))
        page = items[start : start + limit]
        body: dict[str, Any] = {"results": page}
        if start + limit < len(items):
            following = items[start + limit]["id"]
            body["paging"] = {"next": {"after": following, "link": f"{self.url}{path}?after={following}"}}
        return Response(200, body)

    def _shape(self, kind: str, record: dict[str, Any], names: list[str]) -> dict[str, Any]:
        return {**record, "properties": {n: record["properties"].get(n) for n in names}}

    def _requested(self, kind: str, names: list[str]) -> list[str]:
        known = {n for n, _, _ in PROPERTIES[kind]}
        return [n for n in names if n in known] or DEFAULT_PROPERTIES[kind]

    def _list(self, kind: str, request: Request) -> Response:
        names = self._requested(kind, [n for v in request.params("properties") for n in v.split(",") if n])
        items = sorted(self.records[kind], key=lambda r: int(r["id"]))
        response = self._page(items, request, f"/crm/v3/objects/{kind}")
        response.body["results"] = [self._shape(kind, r, names) for r in response.body["results"]]
        return response

    def _search(self, kind: str, body: dict[str, Any]) -> Response:
        limit = self._limit(body.get("limit"), 10, 200)
        if isinstance(limit, Response):
            return limit
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or sum(len(g.get("filters") or []) for g in groups) > 25:
            return _error(400, "Too many filters or filter groups", "VALIDATION_ERROR")
        sorts = body.get("sorts") or []
        key = (kind, json.dumps([groups, sorts], sort_keys=True), self.version)
        if key not in self._search_cache:  # pages of one query see one consistent result set
            self._search_cache = {key: query(self.records[kind], groups, sorts)}
        items = self._search_cache[key]
        offset = int(body.get("after") or 0)
        if offset + limit > SEARCH_CAP:
            return _error(
                400,
                f"The query exceeds the 10000 result limit (after {offset}, limit {limit})",
                "VALIDATION_ERROR",
            )
        page = items[offset : offset + limit]
        names = self._requested(kind, list(body.get("properties") or []))
        result: dict[str, Any] = {"total": len(items), "results": [self._shape(kind, r, names) for r in page]}
        following = offset + limit
        if following < len(items) and following < SEARCH_CAP:
            result["paging"] = {"next": {"after": str(following)}}
        return Response(200, result)

    def _pipelines(self, kind: str) -> list[dict[str, Any]]:
        stages = [
            ("appointmentscheduled", "Appointment scheduled", "0.2"),
            ("closedwon", "Closed won", "1.0"),
        ]
        return [
            {
                "id": "default",
                "label": "Sales Pipeline",
                "displayOrder": 0,
                "archived": False,
                "createdAt": iso(BASE_MS),
                "updatedAt": iso(BASE_MS),
                "stages": [
                    {
                        "id": sid,
                        "label": label,
                        "displayOrder": i,
                        "archived": False,
                        "metadata": {"probability": p, "isClosed": str(sid == "closedwon").lower()},
                        "createdAt": iso(BASE_MS),
                        "updatedAt": iso(BASE_MS),
                    }
                    for i, (sid, label, p) in enumerate(stages)
                ],
            }
        ]

    def _associations(self, source: str, target: str, body: dict[str, Any]) -> Response:
        links = self.associations.get((source, target))
        if links is None:
            return _error(400, f"Invalid association pair {source} -> {target}", "VALIDATION_ERROR")
        inputs = body.get("inputs") or []
        if len(inputs) > 1000:
            return _error(400, "inputs: at most 1000", "VALIDATION_ERROR")
        type_id = ASSOCIATION_TYPES[(source, target)]
        results = [
            {
                "from": {"id": str(item["id"])},
                "to": [
                    {
                        "toObjectId": int(t),
                        "associationTypes": [
                            {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
                        ],
                    }
                    for t in links[str(item["id"])]
                ],
            }
            for item in inputs
            if str(item["id"]) in links
        ]
        now = iso(int(time.time() * 1000))
        return Response(200, {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now})
