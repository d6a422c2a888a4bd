"""Owners, pipelines and associations between contacts, companies and deals."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from tap_hubspot.client import HubSpotStream

STRING = {"type": ["string", "null"]}
TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
BOOLEAN = {"type": ["boolean", "null"]}
INTEGER = {"type": ["integer", "null"]}

# (from, to) object pairs whose associations are read (v4 batch read).
ASSOCIATION_PAIRS = (("contacts", "companies"), ("contacts", "deals"), ("deals", "companies"))
BATCH = 100


class OwnersStream(HubSpotStream):
    """``/crm/v3/owners``: the users records are assigned to."""

    name = "owners"
    path = "/crm/v3/owners"
    primary_keys = ("id",)
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "email": STRING,
            "firstName": STRING,
            "lastName": STRING,
            "userId": INTEGER,
            "createdAt": TIMESTAMP,
            "updatedAt": TIMESTAMP,
            "archived": BOOLEAN,
            "teams": {
                "type": ["array", "null"],
                "items": {"type": "object", "properties": {}, "additionalProperties": True},
            },
        },
        "required": ["id"],
    }

    def get_url_params(self, context: Any, next_page_token: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": 100, "archived": "false"}
        if next_page_token:
            params["after"] = next_page_token
        return params


class PipelinesStream(HubSpotStream):
    """``/crm/v3/pipelines/{objectType}``: deal pipelines and their stages."""

    name = "pipelines"
    path = "/crm/v3/pipelines/deals"
    primary_keys = ("object_type", "id")
    schema = {
        "type": "object",
        "properties": {
            "object_type": {"type": "string"},
            "id": {"type": "string"},
            "label": STRING,
            "displayOrder": INTEGER,
            "archived": BOOLEAN,
            "createdAt": TIMESTAMP,
            "updatedAt": TIMESTAMP,
            "stages": {
                "type": ["array", "null"],
                "items": {"type": "object", "properties": {}, "additionalProperties": True},
            },
        },
        "required": ["object_type", "id"],
    }

    def get_new_paginator(self) -> None:  # type: ignore[override]
        return None

    def post_process(self, row: dict[str, Any], context: Any = None) -> dict[str, Any] | None:
        return {"object_type": "deals", **row}


class AssociationsStream(HubSpotStream):
    """One row per association between a contact, company or deal and another (v4 batch read
    over the ids of the ``from`` objects)."""

    name = "associations"
    path = "/crm/v4/associations"
    primary_keys = ("from_object_type", "from_id", "to_object_type", "to_id", "association_type_id")
    schema = {
        "type": "object",
        "properties": {
            "from_object_type": {"type": "string"},
            "from_id": {"type": "string"},
            "to_object_type": {"type": "string"},
            "to_id": {"type": "string"},
            "association_type_id": {"type": "integer"},
            "association_category": STRING,
            "association_label": STRING,
        },
        "required": ["from_object_type", "from_id", "to_object_type", "to_id", "association_type_id"],
    }

    def _ids(self, kind: str) -> Iterator[list[str]]:
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, "archived": "false", "properties": "hs_object_id"}
            if after:
                params["after"] = after
            body = self.request_json("GET", f"/crm/v3/objects/{kind}", params=params)
            ids = [str(r["id"]) for r in body.get("results") or []]
            if ids:
                yield ids
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def get_records(self, context: Any) -> Iterable[dict[str, Any]]:
        for source, target in ASSOCIATION_PAIRS:
            for ids in self._ids(source):
                body = self.request_json(
                    "POST",
                    f"/crm/v4/associations/{source}/{target}/batch/read",
                    json_body={"inputs": [{"id": i} for i in ids]},
                )
                for result in body.get("results") or []:
                    for link in result.get("to") or []:
                        for kind in link.get("associationTypes") or [{}]:
                            yield {
                                "from_object_type": source,
                                "from_id": str(result["from"]["id"]),
                                "to_object_type": target,
                                "to_id": str(link["toObjectId"]),
                                "association_type_id": kind.get("typeId"),
                                "association_category": kind.get("category"),
                                "association_label": kind.get("label"),
                            }
