"""A first guess at which columns hold personal data, from their names (for generated assets;
a person reviews it: the guess only proposes ``classification: PII``)."""

from __future__ import annotations

import re

# Whole name parts (split on ``_``, ``-``, spaces and camelCase) that mark a personal column.
_PII_PARTS = {
    "email",
    "mail",
    "phone",
    "mobile",
    "telephone",
    "fax",
    "ssn",
    "passport",
    "iban",
    "address",
    "street",
    "zip",
    "postcode",
    "postal",
    "birthdate",
    "dob",
    "firstname",
    "lastname",
    "fullname",
    "surname",
    "username",
}
# Name parts that mark personal data when together (first + name, birth + date...).
_PAIRS = (
    ("first", "name"),
    ("last", "name"),
    ("full", "name"),
    ("given", "name"),
    ("family", "name"),
    ("middle", "name"),
    ("birth", "date"),
    ("date", "birth"),
    ("social", "security"),
    ("tax", "id"),
    ("national", "id"),
    ("ip", "address"),
    ("contact", "name"),
    ("customer", "name"),
)
_SPLIT = re.compile(r"[_\-\s.]+|(?<=[a-z0-9])(?=[A-Z])")
# Bare ``name`` is personal unless it names a thing (product_name, company name...).
_THING_PARTS = {
    "product",
    "company",
    "deal",
    "file",
    "table",
    "vendor",
    "account",
    "plan",
    "display",
    "stage",
    "pipeline",
    "event",
    "host",
    "domain",
    "bucket",
    "object",
    "sheet",
    "tab",
}


def name_parts(column: str) -> list[str]:
    """``customerEmail`` / ``customer_email`` → ``["customer", "email"]``."""
    return [part.lower() for part in _SPLIT.split(column) if part]


def is_pii(column: str) -> bool:
    """Whether a column's name says it holds personal data."""
    parts = name_parts(column)
    if any(part in _PII_PARTS for part in parts):
        return True
    if any(a in parts and b in parts for a, b in _PAIRS):
        return True
    # ``name``, ``customer_name``: personal unless the other part names a thing (``deal_name``).
    return bool(parts) and parts[-1] == "name" and len(parts) <= 2 and not _THING_PARTS & set(parts)
