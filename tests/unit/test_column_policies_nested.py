"""Column policies at every depth: Arrow batches (structs, lists of structs, JSON text), RECORD
dicts and SCHEMA messages agree; dead letters and BATCH messages hold no raw classified value."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal

import pyarrow as pa
import pytest
from singer_sdk.singerlib.messages import RecordMessage, SchemaMessage

from dativo_singer.conversion import Rejected
from dativo_singer.dead_letter import protect_rejected
from dativo_singer.errors import FatalError
from dativo_singer.policy import MASK, apply_policies
from dativo_singer.policy_paths import check_policies, policy_tree, protect_record, protect_schema
from dativo_singer.tap_policy import TapPolicies, hide_value

SALT = "pepper"
POLICIES = {"email": "hash", "profile.email": "hash", "profile.phone": "drop", "contacts[].email": "mask"}


def _h(text: str) -> str:
    return hashlib.sha256(SALT.encode() + text.encode()).hexdigest()


ROWS = [
    {
        "email": "a@x.io",
        "profile": {"email": "p@x.io", "phone": "555", "tier": "gold"},
        "contacts": [{"email": "c@x.io", "role": "cto"}, {"email": None, "role": "cfo"}],
    },
    {"email": None, "profile": None, "contacts": None},
    {"email": "b@x.io", "profile": {"email": None, "phone": None, "tier": None}, "contacts": []},
]
PROTECTED = [
    {
        "email": _h("a@x.io"),
        "profile": {"email": _h("p@x.io"), "tier": "gold"},
        "contacts": [{"email": MASK, "role": "cto"}, {"email": None, "role": "cfo"}],
    },
    {"email": None, "profile": None, "contacts": None},
    {"email": _h("b@x.io"), "profile": {"email": None, "tier": None}, "contacts": []},
]


def test_struct_and_list_columns_are_protected_inside() -> None:
    table = pa.Table.from_pylist(ROWS)
    for data in (table, pa.concat_tables([table.slice(0, 1), table.slice(1)])):  # chunked too
        protected = apply_policies(data, POLICIES, SALT)
        assert protected.to_pylist() == PROTECTED
        assert protected.schema.field("profile").type == pa.struct(
            [pa.field("email", pa.string()), pa.field("tier", pa.string())]
        )


def test_a_sliced_batch_keeps_its_rows() -> None:
    table = pa.Table.from_pylist(ROWS).combine_chunks().slice(1, 2)
    assert apply_policies(table, POLICIES, SALT).to_pylist() == PROTECTED[1:]


def test_objects_held_as_json_text_are_protected_inside() -> None:
    text = pa.table(
        {name: [None if row[name] is None else json.dumps(row[name]) for row in ROWS] for name in ROWS[0]}
    )
    text = text.set_column(0, "email", pa.array([r["email"] for r in ROWS]))
    protected = apply_policies(text, POLICIES, SALT).to_pylist()
    for got, want in zip(protected, PROTECTED, strict=True):
        assert got["email"] == want["email"]
        assert (None if got["profile"] is None else json.loads(got["profile"])) == want["profile"]
        assert (None if got["contacts"] is None else json.loads(got["contacts"])) == want["contacts"]


def test_records_are_protected_as_arrow_batches_are() -> None:
    tree = policy_tree(POLICIES)
    assert [protect_record(row, tree, SALT) for row in ROWS] == PROTECTED
    as_text = {**ROWS[0], "profile": json.dumps(ROWS[0]["profile"])}
    assert json.loads(protect_record(as_text, tree, SALT)["profile"]) == PROTECTED[0]["profile"]


@pytest.mark.parametrize(
    ("prop", "record_value", "arrow_value", "arrow_type"),
    [
        ({"type": "string"}, "a@x.io", "a@x.io", pa.string()),
        ({"type": "integer"}, 42, 42, pa.int64()),
        ({"type": "boolean"}, True, True, pa.bool_()),
        ({"type": "string", "format": "date"}, "2024-01-02", dt.date(2024, 1, 2), pa.date32()),
        (
            {"type": "string", "format": "date-time"},
            "2024-01-02T03:04:05Z",
            dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
            pa.timestamp("us", "UTC"),
        ),
        ({"type": "number"}, Decimal("1.5"), 1.5, pa.float64()),
    ],
)
def test_the_record_path_hash_equals_the_hash_of_the_typed_value(
    prop: dict, record_value: object, arrow_value: object, arrow_type: pa.DataType
) -> None:
    """A target hashed ``str`` of the value it typed; the tap's RECORD path gives the same."""
    schema = {"properties": {"v": prop}}
    from_record = protect_record({"v": record_value}, {"v": "hash"}, SALT, schema)["v"]
    from_arrow = apply_policies(pa.table({"v": pa.array([arrow_value], arrow_type)}), {"v": "hash"}, SALT)
    assert from_record == from_arrow.column("v")[0].as_py() == _h(str(arrow_value))


def test_the_schema_says_what_the_records_hold() -> None:
    schema = {
        "type": "object",
        "required": ["email"],
        "properties": {
            "email": {"type": "string"},
            "profile": {
                "type": ["object", "null"],
                "properties": {"email": {"type": "integer"}, "phone": {"type": "string"}, "tier": {}},
            },
            "contacts": {
                "type": "array",
                "items": {"type": "object", "properties": {"email": {"type": "string"}}},
            },
        },
    }
    protected = protect_schema(schema, policy_tree(POLICIES))
    assert protected["properties"]["email"] == {"type": ["string", "null"]}
    assert set(protected["properties"]["profile"]["properties"]) == {"email", "tier"}
    assert protected["properties"]["profile"]["properties"]["email"] == {"type": ["string", "null"]}
    assert protected["properties"]["contacts"]["items"]["properties"]["email"]["type"] == ["string", "null"]
    assert schema["properties"]["profile"]["properties"]["email"] == {"type": "integer"}  # a copy


def test_the_tap_sends_protected_schema_and_records_and_refuses_unprotected_batches() -> None:
    policies = TapPolicies.from_config({"column_policies": POLICIES, "hash_salt": SALT})
    schema = {"properties": {"email": {"type": "string"}, "profile": {"type": "object"}}}
    sent = policies.message(SchemaMessage("s", schema, [], None))
    assert sent.schema["properties"]["email"] == {"type": ["string", "null"]}
    record = policies.message(RecordMessage("s", dict(ROWS[0])))
    assert record.record == PROTECTED[0]
    from dativo_singer.sdk_internals import JSONLinesEncoding, SDKBatchMessage

    with pytest.raises(FatalError, match="Parquet BATCH files only"):
        policies.message(SDKBatchMessage("s", JSONLinesEncoding(), ["file:///x.jsonl.gz"]))


def test_dead_letters_keep_the_reason_and_unclassified_fields() -> None:
    record = {"id": 7, "email": "a@x.io", "profile": {"email": "p@x.io", "tier": "gold"}, "note": "x"}
    rejected = [Rejected(record, "field 'email': 'a@x.io' is not a valid int64", b'{"raw": "a@x.io"}')]
    [kept] = protect_rejected(rejected, POLICIES, SALT)
    profile = {"email": _h("p@x.io"), "tier": "gold"}
    assert kept.record == {"id": 7, "email": _h("a@x.io"), "profile": profile, "note": "x"}
    assert kept.reason == "field 'email': <classified> is not a valid int64"
    assert kept.raw is None
    assert protect_rejected(rejected, {"email": "allow"}, SALT) == rejected


def test_bad_policies_and_quoted_values() -> None:
    with pytest.raises(FatalError, match="unknown action"):
        check_policies({"a.b": "encrypt"})
    with pytest.raises(FatalError, match="empty field name"):
        check_policies({"a..b": "hash"})
    assert hide_value("'bob@x.io' is not JSON", "bob@x.io") == "<classified value> is not JSON"
    assert policy_tree({"profile": "drop", "profile.email": "hash"}) == {"profile": "drop"}


def test_a_column_without_the_fields_a_policy_names_is_hashed_whole() -> None:
    table = pa.table({"profile": pa.array([7, None], pa.int64())})
    assert apply_policies(table, {"profile.email": "hash"}, SALT).column(0).to_pylist() == [_h("7"), None]
    assert protect_record({"profile": 7}, policy_tree({"profile.email": "hash"}), SALT) == {"profile": _h("7")}
