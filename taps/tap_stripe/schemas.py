"""JSON Schemas of the Stripe objects the tap reads: ids as strings, amounts as integers in
minor units, ``created`` as a timestamp, nested objects as objects (a target stores them as
JSON text or structs)."""

from __future__ import annotations

from typing import Any

STRING = {"type": ["string", "null"]}
INTEGER = {"type": ["integer", "null"]}
BOOLEAN = {"type": ["boolean", "null"]}
OBJECT = {"type": ["object", "null"], "additionalProperties": True}
ARRAY = {"type": ["array", "null"], "items": {}}

_COMMON: dict[str, Any] = {
    "id": {"type": "string"},
    "object": STRING,
    "created": {"type": "string", "format": "date-time"},
    "livemode": BOOLEAN,
    "metadata": OBJECT,
}

_FIELDS: dict[str, dict[str, Any]] = {
    "customers": {
        "email": STRING,
        "name": STRING,
        "phone": STRING,
        "description": STRING,
        "balance": INTEGER,
        "currency": STRING,
        "delinquent": BOOLEAN,
        "address": OBJECT,
        "default_source": STRING,
        "invoice_prefix": STRING,
    },
    "charges": {
        "amount": INTEGER,
        "amount_captured": INTEGER,
        "amount_refunded": INTEGER,
        "currency": STRING,
        "customer": STRING,
        "description": STRING,
        "paid": BOOLEAN,
        "refunded": BOOLEAN,
        "status": STRING,
        "payment_intent": STRING,
        "balance_transaction": STRING,
        "outcome": OBJECT,
    },
    "invoices": {
        "amount_due": INTEGER,
        "amount_paid": INTEGER,
        "amount_remaining": INTEGER,
        "currency": STRING,
        "customer": STRING,
        "status": STRING,
        "subscription": STRING,
        "number": STRING,
        "paid": BOOLEAN,
        "period_start": INTEGER,
        "period_end": INTEGER,
        "total": INTEGER,
        "lines": OBJECT,
    },
    "subscriptions": {
        "customer": STRING,
        "status": STRING,
        "currency": STRING,
        "current_period_start": INTEGER,
        "current_period_end": INTEGER,
        "cancel_at_period_end": BOOLEAN,
        "canceled_at": INTEGER,
        "items": OBJECT,
    },
    "products": {
        "name": STRING,
        "description": STRING,
        "active": BOOLEAN,
        "type": STRING,
        "updated": INTEGER,
        "default_price": STRING,
    },
    "prices": {
        "product": STRING,
        "active": BOOLEAN,
        "currency": STRING,
        "unit_amount": INTEGER,
        "type": STRING,
        "recurring": OBJECT,
        "nickname": STRING,
    },
    "payment_intents": {
        "amount": INTEGER,
        "amount_received": INTEGER,
        "currency": STRING,
        "customer": STRING,
        "status": STRING,
        "description": STRING,
        "latest_charge": STRING,
    },
    "refunds": {
        "amount": INTEGER,
        "currency": STRING,
        "charge": STRING,
        "payment_intent": STRING,
        "status": STRING,
        "reason": STRING,
    },
    "balance_transactions": {
        "amount": INTEGER,
        "fee": INTEGER,
        "net": INTEGER,
        "currency": STRING,
        "type": STRING,
        "status": STRING,
        "source": STRING,
        "available_on": INTEGER,
        "description": STRING,
    },
    "events": {
        "type": STRING,
        "api_version": STRING,
        "data": OBJECT,
        "request": OBJECT,
        "pending_webhooks": INTEGER,
    },
}

STREAM_NAMES = tuple(_FIELDS)


def stream_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of one stream."""
    common = {k: v for k, v in _COMMON.items() if not (name == "events" and k == "metadata")}
    return {
        "type": "object",
        "properties": {**common, **_FIELDS[name]},
        "required": ["id", "created"],
    }
