"""Discovery's pure parts: a Singer catalog entry made readable, CSV types guessed from values, PII
guessed from column names, and the asset a discovered stream becomes."""

from __future__ import annotations

import pytest

from dativo_runner.assets import json_schema_of_type
from dativo_runner.discovery import normalize_stream, readable_type
from dativo_runner.generate_config import asset_document
from dativo_runner.pii_guess import is_pii
from dativo_runner.plugins.sources.csv_sample import guess_type

ENTRY = {
    "tap_stream_id": "shop-orders",
    "stream": "shop-orders",
    "key_properties": ["id"],
    "schema": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "amount": {"type": ["number", "null"], "multipleOf": 0.01, "maximum": 9999999999.99},
            "ratio": {"type": ["number", "null"]},
            "tags": {"type": ["array", "null"], "items": {"type": "string"}},
            "meta": {"type": ["object", "null"], "properties": {}},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "seen_on": {"type": ["string", "null"], "format": "date"},
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
            "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "metadata": [
        {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}},
        {
            "breadcrumb": [],
            "metadata": {
                "schema-name": "shop",
                "table-name": "orders",
                "valid-replication-keys": ["updated_at"],
            },
        },
    ],
}


def test_catalog_entry_becomes_readable_stream() -> None:
    stream = normalize_stream(ENTRY)

    assert stream.stream == "shop.orders" and stream.key_properties == ("id",)
    assert {f.name: (f.type, f.nullable, f.items) for f in stream.fields} == {
        "id": ("integer", False, None),
        "amount": ("decimal(12,2)", True, None),
        "ratio": ("double", True, None),
        "tags": ("array", True, "string"),
        "meta": ("json", True, None),
        "note": ("string", True, None),
        "seen_on": ("date", True, None),
        "updated_at": ("timestamp", True, None),
    }
    assert stream.replication_key_candidates == ("updated_at",)


def test_candidates_without_metadata_are_temporal_and_integer_fields() -> None:
    entry = {**ENTRY, "metadata": []}
    assert normalize_stream(entry).replication_key_candidates == ("seen_on", "updated_at")


@pytest.mark.parametrize(
    "asset_type", ["decimal(12,2)", "decimal(38,0)", "decimal(5,4)", "timestamp", "double"]
)
def test_asset_types_round_trip(asset_type: str) -> None:
    assert readable_type(json_schema_of_type(asset_type)) == asset_type


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "-2", ""], "integer"),
        (["007", "12"], "string"),
        (["1.5", "3", "-0.25"], "double"),
        (["true", "FALSE"], "boolean"),
        (["2026-01-02", ""], "date"),
        (["2026-01-02T10:00:00Z", "2026-01-02 10:00:00+01:00"], "timestamp"),
        (["2026-01-02", "soon"], "string"),
        (["", " "], "string"),
    ],
)
def test_csv_type_guess(values: list[str], expected: str) -> None:
    assert guess_type(values) == expected


@pytest.mark.parametrize(
    "column",
    [
        "email",
        "customer_email",
        "phoneNumber",
        "first_name",
        "LastName",
        "name",
        "ssn",
        "date_of_birth",
        "birth_date",
        "street_address",
        "zip",
        "full_name",
    ],
)
def test_pii_names(column: str) -> None:
    assert is_pii(column)


@pytest.mark.parametrize("column", ["deal_name", "company_name", "amount", "status", "created_at", "stage"])
def test_not_pii_names(column: str) -> None:
    assert not is_pii(column)


def test_asset_of_stream_marks_keys_required_and_text_pii() -> None:
    asset = asset_document("postgres", normalize_stream(ENTRY))["asset"]

    assert (
        asset["name"] == "postgres_orders" and asset["object"] == "orders" and asset["primary_key"] == ["id"]
    )
    fields = {f["name"]: f for f in asset["schema"]}
    assert fields["id"] == {"name": "id", "type": "integer", "required": True}
    assert fields["tags"] == {"name": "tags", "type": "array", "items": "string"}
    assert asset["governance"]["classification"] == [] and asset["governance"]["owner"].startswith("TODO")


def test_sampled_records_flag_columns_by_value_and_keep_the_catalog_entry_private() -> None:
    from dativo_runner.value_sample import flag_values

    stream = normalize_stream(ENTRY)
    assert stream.entry is ENTRY and "entry" not in stream.to_dict()
    records = [
        {"id": i, "note": f"person{i}@example.com", "amount": 1.5, "seen_on": "2026-01-02", "tags": ["a"]}
        for i in range(5)
    ]
    flagged = {f.name: (f.type, f.pii) for f in flag_values(stream, records).fields}
    assert flagged["note"] == ("string", "email")
    assert flagged["seen_on"] == ("date", None)  # one year: event dates, not birth dates
    assert flagged["id"] == ("integer", None) and flagged["tags"] == ("array", None)
    cards = [{"id": 4111111111111111}] * 4  # Luhn-valid: a card number, typed as text
    assert {f.name: f.type for f in flag_values(stream, cards).fields}["id"] == "string"
