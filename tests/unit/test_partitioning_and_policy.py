"""Partition spec parsing and column policies (pure functions)."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pytest
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    TruncateTransform,
    YearTransform,
)
from target_iceberg.partitioning import parse_partitioning

from dativo_singer.errors import FatalError
from dativo_singer.policy import apply_policies


def test_every_partitioning_form_parses() -> None:
    fields = parse_partitioning(
        [
            "ingest_date",
            "country",
            "year(a)",
            "month(b)",
            "day(c)",
            "hour(d)",
            "bucket(16, id)",
            "truncate(4,sku)",
        ]
    )
    assert [(f.source, type(f.transform), f.name) for f in fields] == [
        ("ingest_date", IdentityTransform, "ingest_date"),
        ("country", IdentityTransform, "country"),
        ("a", YearTransform, "a_year"),
        ("b", MonthTransform, "b_month"),
        ("c", DayTransform, "c_day"),
        ("d", HourTransform, "d_hour"),
        ("id", BucketTransform, "id_bucket"),
        ("sku", TruncateTransform, "sku_trunc"),
    ]
    assert fields[6].transform.num_buckets == 16 and fields[7].transform.width == 4


@pytest.mark.parametrize("entry", ["weekday(x)", "bucket(x)", "a b", "day(1, x)"])
def test_unknown_partitioning_is_a_clear_error(entry: str) -> None:
    with pytest.raises(FatalError, match="partitioning entry"):
        parse_partitioning([entry])


def test_policies_transform_a_batch() -> None:
    data = pa.table({"email": ["a@x.io", None], "ssn": ["1", "2"], "card": ["4111", None], "n": [1, 2]})
    policies = {"email": "hash", "ssn": "drop", "card": "mask", "n": "allow"}
    out = apply_policies(data, policies, salt="s")
    assert out.column_names == ["email", "card", "n"]
    assert out.column("email").to_pylist() == [hashlib.sha256(b"sa@x.io").hexdigest(), None]
    assert out.column("card").to_pylist() == ["****", None]
