"""Changed source column types (docs/CDC.md, "Changed column types"): which property a stream
declares when the log shows a column's new type, and which changes target-iceberg refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from target_iceberg.type_changes import refused_type_change

from dativo_singer.arrow_types import arrow_type
from dativo_singer.sql import types as k
from dativo_singer.sql.retype import retyped_property, wider_property

INT4 = k.ColumnKind(k.INT, "integer", minimum=-(2**31), maximum=2**31 - 1)
INT8 = k.ColumnKind(k.INT, "bigint", minimum=-(2**63), maximum=2**63 - 1)
DEC_10_2 = k.ColumnKind(k.DECIMAL, "numeric(10, 2)", precision=10, scale=2)
DEC_14_2 = k.ColumnKind(k.DECIMAL, "numeric(14, 2)", precision=14, scale=2)
DEC_12_4 = k.ColumnKind(k.DECIMAL, "numeric(12, 4)", precision=12, scale=4)
REAL = k.ColumnKind(k.FLOAT32, "real")
DOUBLE = k.ColumnKind(k.FLOAT, "double precision")
TEXT = k.ColumnKind(k.STRING, "text")
VARCHAR_50 = k.ColumnKind(k.STRING, "varchar(50)")


def _declared(kind: k.ColumnKind) -> dict[str, Any]:
    prop = kind.json_schema()
    return {**prop, "type": [prop["type"], "null"]}


@pytest.mark.parametrize(
    ("old", "new", "declared_after"),
    [
        (INT4, INT8, pa.int64()),  # the same column type; its bounds follow
        (DEC_10_2, DEC_14_2, pa.decimal128(14, 2)),
        (REAL, DOUBLE, None),  # both are JSON numbers (double columns)
        (TEXT, VARCHAR_50, None),
        (DEC_14_2, DEC_10_2, None),  # narrower: its values fit the declared type
        (INT8, INT4, None),
        (INT4, TEXT, pa.string()),  # no promotion: declared as the source's, the target decides
        (DEC_10_2, DEC_12_4, pa.decimal128(12, 4)),
    ],
)
def test_the_property_a_changed_type_declares(
    old: k.ColumnKind, new: k.ColumnKind, declared_after: pa.DataType | None
) -> None:
    prop = retyped_property(_declared(old), old, new)
    if declared_after is None:
        assert prop is None
        return
    assert prop is not None and arrow_type(prop) == declared_after
    assert "null" in prop["type"]


def test_a_catalog_type_of_its_own_stays() -> None:
    assert retyped_property({"type": ["string", "null"]}, INT4, INT8) is None
    assert retyped_property({"type": ["string", "null"]}, INT4, TEXT) is None


def test_at_start_only_promotions_of_the_declared_type_widen_it() -> None:
    assert wider_property({"type": ["number", "null"], "multipleOf": 0.01, "maximum": 99999999.99}, DEC_14_2)
    assert wider_property(_declared(INT4), INT8) == _declared(INT8)
    assert wider_property({"type": ["integer", "null"]}, INT8) is None  # no bounds declared
    assert wider_property(_declared(DEC_10_2), DEC_12_4) is None
    assert wider_property(_declared(INT4), TEXT) is None


@pytest.mark.parametrize(
    ("incoming", "refused"),
    [
        (pa.int64(), False),
        (pa.int32(), False),
        (pa.decimal128(14, 2), False),
        (pa.decimal128(8, 2), False),
        (pa.decimal128(12, 4), True),
        (pa.string(), True),
        (pa.float64(), True),
    ],
)
def test_target_refuses_what_iceberg_cannot_promote(
    tmp_path: Path, incoming: pa.DataType, refused: bool
) -> None:
    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path}/c.db", warehouse=tmp_path.as_uri())
    catalog.create_namespace("ns")
    table = catalog.create_table(
        "ns.items", pa.schema([pa.field("id", pa.int64(), False), pa.field("amount", pa.decimal128(10, 2))])
    )
    if pa.types.is_integer(incoming):
        table = catalog.create_table(
            "ns.counts", pa.schema([pa.field("id", pa.int64(), False), ("amount", pa.int64())])
        )
    problem = refused_type_change(table, pa.schema([("id", pa.int64()), ("amount", incoming)]), "ns.items")
    if not refused:
        assert problem is None
        return
    assert problem is not None and problem.startswith(
        "table ns.items column 'amount': the source changed its type"
    )
    assert "not a promotion Iceberg allows" in problem
