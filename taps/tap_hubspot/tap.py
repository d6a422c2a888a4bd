"""TapHubSpot: the singer-sdk Tap class and the `tap-hubspot` console script."""

from __future__ import annotations

from typing import Any

from singer_sdk import Stream
from singer_sdk import typing as th

from dativo_singer.cli import run_tap_cli
from dativo_singer.errors import FatalError
from dativo_singer.rest import rest_properties
from dativo_singer.sdk_internals import ConfigCheck, StopAtOnce
from dativo_singer.settings import emit_activate_version_property
from dativo_singer.tap_policy import PolicyTap
from tap_hubspot.objects import MODIFIED_PROPERTY, CrmObjectStream
from tap_hubspot.streams import AssociationsStream, OwnersStream, PipelinesStream

DEFAULT_API_URL = "https://api.hubapi.com"
# Private apps may make 100 to 190 requests per 10 seconds depending on the account's tier.
DEFAULT_REQUESTS_PER_SECOND = 9.0
OBJECT_TYPES = tuple(MODIFIED_PROPERTY)


class TapHubSpot(StopAtOnce, ConfigCheck, PolicyTap):
    """HubSpot CRM: contacts, companies, deals, owners, pipelines and associations."""

    name = "tap-hubspot"
    package_name = "dativo-ingest"
    config_jsonschema = th.PropertiesList(
        th.Property(
            "access_token",
            th.StringType,
            required=True,
            secret=True,
            description="Private app access token (pat-...)",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Records modified from this moment on (default: all, via the list endpoints)",
        ),
        th.Property(
            "created_from",
            th.DateTimeType,
            description="Contacts, companies and deals created from this moment on only (a search "
            "filter on createdate; with created_before, one time window)",
        ),
        th.Property(
            "created_before",
            th.DateTimeType,
            description="Contacts, companies and deals created before this moment only (a search "
            "filter on createdate)",
        ),
        th.Property(
            "properties",
            th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
            description="Object type -> the properties to read (default: all of them)",
        ),
        *rest_properties(DEFAULT_API_URL, DEFAULT_REQUESTS_PER_SECOND),
        emit_activate_version_property(default=True),
    ).to_dict()

    def check_config(self) -> None:
        """Every problem in one line."""
        errors = self.schema_problems()
        if "access_token" in self.config and not str(self.config["access_token"] or "").strip():
            errors.append("access_token: is required")
        for kind in self.config.get("properties") or {}:
            if kind not in OBJECT_TYPES:
                errors.append(f"properties.{kind}: unknown object type (known: {', '.join(OBJECT_TYPES)})")
        if errors:
            raise FatalError("; ".join(dict.fromkeys(errors)))

    def _property_types(self, kind: str, probe: OwnersStream) -> dict[str, str]:
        """Name -> HubSpot type from ``/crm/v3/properties/{kind}``, limited to ``properties``."""
        body: Any = probe.request_json("GET", f"/crm/v3/properties/{kind}")
        types = {p["name"]: p.get("type", "string") for p in body.get("results") or []}
        wanted = (self.config.get("properties") or {}).get(kind)
        if wanted:
            unknown = [n for n in wanted if n not in types]
            if unknown:
                raise FatalError(f"properties.{kind}: {unknown[0]!r} is not a HubSpot {kind} property")
            keep = {*wanted, MODIFIED_PROPERTY[kind], "hs_object_id"}
            types = {n: t for n, t in types.items() if n in keep}
        return types

    def discover_streams(self) -> list[Stream]:
        """Object streams typed by the properties API, then owners, pipelines, associations."""
        owners = OwnersStream(tap=self)
        streams: list[Stream] = [
            CrmObjectStream(self, kind, self._property_types(kind, owners)) for kind in OBJECT_TYPES
        ]
        streams += [owners, PipelinesStream(tap=self), AssociationsStream(tap=self)]
        return streams


def main() -> None:
    """Console script `tap-hubspot`."""
    run_tap_cli("tap-hubspot", TapHubSpot)
