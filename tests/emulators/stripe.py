"""A loopback emulator of Stripe's REST API (list endpoints, events, errors), after Stripe's
API reference: ``GET /v1/<resource>`` with ``limit`` (1-100, default 10), ``starting_after``,
``ending_before``, ``created[gt|gte|lt|lte]``; lists newest first in the envelope
``{"object": "list", "data": [...], "has_more": ..., "url": "/v1/<resource>"}``; bearer or
basic auth with the secret key; error bodies ``{"error": {"type", "message", "code", "param"}}``.
"""

from __future__ import annotations

import base64
import fnmatch
import random
import time
import uuid
from typing import Any

from tests.emulators.server import Emulator, Request, Response

RESOURCES = {  # list path -> object name and id prefix
    "customers": ("customer", "cus"),
    "charges": ("charge", "ch"),
    "invoices": ("invoice", "in"),
    "subscriptions": ("subscription", "sub"),
    "products": ("product", "prod"),
    "prices": ("price", "price"),
    "payment_intents": ("payment_intent", "pi"),
    "refunds": ("refund", "re"),
    "balance_transactions": ("balance_transaction", "txn"),
    "events": ("event", "evt"),
}
EVENT_PREFIX = {  # object name -> the event type prefix of its changes
    "customer": "customer",
    "charge": "charge",
    "invoice": "invoice",
    "subscription": "customer.subscription",
    "product": "product",
    "price": "price",
    "payment_intent": "payment_intent",
    "refund": "refund",
}
BASE_CREATED = 1_704_067_200  # 2024-01-01T00:00:00Z
API_KEY = "sk_test_emulator_51Hx0aBcDeFgHiJkLmNoPq9z"


def _error(
    status: int, kind: str, message: str, code: str | None = None, param: str | None = None
) -> Response:
    body: dict[str, Any] = {"type": kind, "message": message}
    if code:
        body["code"] = code
    if param:
        body["param"] = param
    return Response(status, {"error": body}, {"Request-Id": f"req_{uuid.uuid4().hex[:14]}"})


class StripeEmulator(Emulator):
    """Seeded Stripe data: ``counts`` objects per resource, ``created`` a minute apart (several
    share a second, as in real accounts)."""

    def __init__(self, counts: dict[str, int] | None = None, seed: int = 1, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self.objects: dict[str, list[dict[str, Any]]] = {name: [] for name in RESOURCES}
        rng = random.Random(seed)
        for resource, count in (counts or {"customers": 50}).items():
            for index in range(count):
                self.objects[resource].append(self._make(resource, index, rng))

    def _make(self, resource: str, index: int, rng: random.Random) -> dict[str, Any]:
        name, prefix = RESOURCES[resource]
        created = BASE_CREATED + (index // 3) * 60  # three objects per minute share a timestamp
        obj: dict[str, Any] = {
            "id": f"{prefix}_{index:06d}{rng.randrange(16**6):06x}",
            "object": name,
            "created": created,
            "livemode": False,
            "metadata": {"seq": str(index)},
        }
        amount = rng.randrange(100, 100_000)
        customer = f"cus_{index:06d}"
        if resource == "customers":
            obj.update(
                email=f"user{index}@example.com",
                name=f"Customer {index}",
                phone=None,
                description=None,
                balance=0,
                currency="usd",
                delinquent=False,
                address={"country": "US", "city": "Reno"},
                default_source=None,
                invoice_prefix=f"{index:08X}",
            )
        elif resource == "charges":
            obj.update(
                amount=amount,
                amount_captured=amount,
                amount_refunded=0,
                currency="usd",
                customer=customer,
                description=None,
                paid=True,
                refunded=False,
                status="succeeded",
                payment_intent=f"pi_{index:06d}",
                balance_transaction=f"txn_{index:06d}",
                outcome={"network_status": "approved_by_network", "type": "authorized"},
            )
        elif resource == "payment_intents":
            obj.update(
                amount=amount,
                amount_received=amount,
                currency="usd",
                customer=customer,
                description=None,
                status="succeeded",
                latest_charge=f"ch_{index:06d}",
            )
        elif resource == "refunds":
            obj.update(
                amount=amount,
                currency="usd",
                charge=f"ch_{index:06d}",
                payment_intent=f"pi_{index:06d}",
                status="succeeded",
                reason="requested_by_customer",
            )
        elif resource == "invoices":
            obj.update(
                amount_due=amount,
                amount_paid=0,
                amount_remaining=amount,
                currency="usd",
                customer=customer,
                status="open",
                subscription=f"sub_{index:06d}",
                number=f"INV-{index:04d}",
                paid=False,
                period_start=obj["created"],
                period_end=obj["created"] + 2_592_000,
                total=amount,
                lines={"object": "list", "data": [], "has_more": False, "url": "/v1/invoices/lines"},
            )
        elif resource == "subscriptions":
            obj.update(
                customer=customer,
                status="active",
                currency="usd",
                current_period_start=obj["created"],
                current_period_end=obj["created"] + 2_592_000,
                cancel_at_period_end=False,
                canceled_at=None,
                items={"object": "list", "data": [], "has_more": False, "url": "/v1/subscription_items"},
            )
        elif resource == "products":
            obj.update(
                name=f"Product {index}",
                description=None,
                active=True,
                type="service",
                updated=obj["created"],
                default_price=f"price_{index:06d}",
            )
        elif resource == "prices":
            obj.update(
                product=f"prod_{index:06d}",
                active=True,
                currency="usd",
                unit_amount=amount,
                type="recurring",
                recurring={"interval": "month", "interval_count": 1},
                nickname=None,
            )
        elif resource == "balance_transactions":
            obj.update(
                amount=amount,
                fee=30 + amount * 29 // 1000,
                currency="usd",
                type="charge",
                status="available",
                source=f"ch_{index:06d}",
                available_on=obj["created"] + 172_800,
                description=None,
            )
            obj["net"] = amount - obj["fee"]
        return obj

    # -- helpers for tests ------------------------------------------------------------------------

    def update(self, resource: str, object_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change an object and record the ``<object>.updated`` event Stripe would send."""
        with self.lock:
            obj = next(o for o in self.objects[resource] if o["id"] == object_id)
            previous = {k: obj.get(k) for k in changes}
            obj.update(changes)
            name = obj["object"]
            self.add_event(f"{EVENT_PREFIX[name]}.updated", dict(obj), previous)
            return obj

    def add_event(self, kind: str, snapshot: dict[str, Any], previous: dict[str, Any] | None = None) -> None:
        """Append an event (``created`` now)."""
        data: dict[str, Any] = {"object": snapshot}
        if previous is not None:
            data["previous_attributes"] = previous
        self.objects["events"].append(
            {
                "id": f"evt_{uuid.uuid4().hex[:24]}",
                "object": "event",
                "api_version": "2024-06-20",
                "created": int(time.time()),
                "type": kind,
                "data": data,
                "livemode": False,
                "pending_webhooks": 0,
                "request": {"id": None, "idempotency_key": None},
            }
        )

    def create(self, resource: str, created: int | None = None, **fields: Any) -> dict[str, Any]:
        """A new object (``created`` now by default)."""
        with self.lock:
            obj = self._make(resource, len(self.objects[resource]) + 10_000, random.Random(0))
            obj.update(fields, created=created or int(time.time()))
            self.objects[resource].append(obj)
            return obj

    # -- the API ----------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        key = ""
        if header.startswith("Bearer "):
            key = header[7:]
        elif header.startswith("Basic "):
            key = base64.b64decode(header[6:]).decode().partition(":")[0]
        if not key:
            return _error(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        if key != self.api_key:
            return _error(401, "invalid_request_error", f"Invalid API Key provided: {key[:7]}****{key[-4:]}")
        return None

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "429":
            response = _error(
                429,
                "invalid_request_error",
                "Too many requests hit the API too quickly. We recommend an exponential "
                "backoff of your requests.",
                code="rate_limit",
            )
            response.headers["Stripe-Should-Retry"] = "true"
            return response
        return _error(int(kind), "api_error", "An unknown error occurred")

    def handle(self, request: Request) -> Response:
        if request.method != "GET":
            return _error(
                404, "invalid_request_error", f"Unrecognized request URL ({request.method}: {request.path})."
            )
        denied = self._authorized(request)
        if denied:
            return denied
        parts = request.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "v1" or parts[1] not in RESOURCES:
            return _error(404, "invalid_request_error", f"Unrecognized request URL (GET: {request.path}).")
        resource = parts[1]
        if len(parts) == 3:
            found = [o for o in self.objects[resource] if o["id"] == parts[2]]
            if not found:
                return _error(
                    404,
                    "invalid_request_error",
                    f"No such {RESOURCES[resource][0]}: '{parts[2]}'",
                    code="resource_missing",
                    param="id",
                )
            return Response(200, found[0])
        return self._list(request, resource)

    def _list(self, request: Request, resource: str) -> Response:
        limit_text = request.param("limit", "10") or "10"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
            return _error(
                400,
                "invalid_request_error",
                "Invalid integer: limit must be between 1 and 100",
                code="parameter_invalid_integer",
                param="limit",
            )
        limit = int(limit_text)
        items = self._filtered(request, resource)
        if isinstance(items, Response):
            return items
        # Newest first; ties keep the reverse of creation order.
        ordered = [
            o for _, o in sorted(enumerate(items), key=lambda p: (p[1]["created"], p[0]), reverse=True)
        ]
        after, before = request.param("starting_after"), request.param("ending_before")
        if after or before:
            cursor = after or before
            ids = [o["id"] for o in ordered]
            if cursor not in ids:
                every = [o["id"] for o in self.objects[resource]]
                if cursor in every:  # filtered out: Stripe still pages from its position
                    ordered_all = sorted(self.objects[resource], key=lambda o: o["created"], reverse=True)
                    position = [o["id"] for o in ordered_all].index(cursor)
                    keep = {o["id"] for o in ordered}
                    ordered_ids = [o["id"] for o in ordered_all]
                    if after:
                        ordered = [
                            o for o in ordered if ordered_ids.index(o["id"]) > position and o["id"] in keep
                        ]
                    else:
                        ordered = [
                            o for o in ordered if ordered_ids.index(o["id"]) < position and o["id"] in keep
                        ]
                else:
                    name = "starting_after" if after else "ending_before"
                    return _error(
                        400,
                        "invalid_request_error",
                        f"No such {RESOURCES[resource][0]}: '{cursor}'",
                        code="resource_missing",
                        param=name,
                    )
            else:
                index = ids.index(cursor)
                ordered = ordered[index + 1 :] if after else ordered[:index]
        if before:
            page = ordered[-limit:]
            has_more = len(ordered) > limit
        else:
            page = ordered[:limit]
            has_more = len(ordered) > limit
        return Response(
            200,
            {"object": "list", "data": page, "has_more": has_more, "url": f"/v1/{resource}"},
            {
                "Request-Id": f"req_{uuid.uuid4().hex[:14]}",
                "Stripe-Version": request.headers.get("stripe-version", "2024-06-20"),
            },
        )

    def _filtered(self, request: Request, resource: str) -> list[dict[str, Any]] | Response:
        items = list(self.objects[resource])
        for key, value in request.query:
            if key == "created" or key.startswith("created["):
                op = key[8:-1] if key.startswith("created[") else "eq"
                if not value.lstrip("-").isdigit() or op not in ("gt", "gte", "lt", "lte", "eq"):
                    return _error(
                        400,
                        "invalid_request_error",
                        f"Invalid {key}: must be an integer Unix timestamp",
                        code="parameter_invalid_integer",
                        param=key,
                    )
                bound = int(value)
                test = {
                    "gt": lambda c, b=bound: c > b,
                    "gte": lambda c, b=bound: c >= b,
                    "lt": lambda c, b=bound: c < b,
                    "lte": lambda c, b=bound: c <= b,
                    "eq": lambda c, b=bound: c == b,
                }[op]
                items = [o for o in items if test(o["created"])]
        if resource == "events":
            kinds = request.params("types[]") or ([request.param("type")] if request.param("type") else [])
            if kinds:
                items = [o for o in items if any(fnmatch.fnmatchcase(o["type"], k) for k in kinds)]
        return items
