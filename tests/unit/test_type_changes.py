"""Changed source column types (docs/CDC.md, "Changed column types"): which property a stream
declares when the log shows a column's new type, and which changes target-iceberg refuses."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pymysqlreplication.constants import FIELD_TYPE
from sqlalchemy.dialects import mysql, postgresql
from tap_mysql import table_map_types
from tap_postgres import relation_types
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
    ("column", "incoming", "refused"),
    [
        (pa.decimal128(10, 2), pa.decimal128(10, 2), False),
        (pa.decimal128(10, 2), pa.decimal128(14, 2), False),  # a promotion: _evolve makes it
        (pa.decimal128(10, 2), pa.decimal128(8, 2), False),  # narrower: the values fit
        (pa.decimal128(10, 2), pa.decimal128(12, 4), True),  # the scale changed
        (pa.decimal128(10, 2), pa.float64(), True),
        (pa.int64(), pa.int32(), False),
        (pa.int32(), pa.int64(), False),
        (pa.int64(), pa.string(), True),
        (pa.int64(), pa.float64(), True),
        (pa.float32(), pa.float64(), False),
        (pa.string(), pa.string(), False),
        (pa.string(), pa.int64(), True),
    ],
)
def test_target_refuses_what_iceberg_cannot_promote(
    tmp_path: Path, column: pa.DataType, incoming: pa.DataType, refused: bool
) -> None:
    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path}/c.db", warehouse=tmp_path.as_uri())
    catalog.create_namespace("ns")
    table = catalog.create_table(
        "ns.items", pa.schema([pa.field("id", pa.int64(), False), ("amount", column)])
    )
    incoming_schema = pa.schema([("id", pa.int64()), ("amount", incoming), ("added", pa.string())])
    problem = refused_type_change(table, incoming_schema, "ns.items")
    if not refused:
        assert problem is None
        return
    assert problem is not None
    assert problem.startswith("table ns.items column 'amount': the source changed its type from ")
    assert "not a promotion Iceberg allows" in problem


@pytest.mark.parametrize(
    ("oid", "modifier", "kind"),
    [
        (1700, (14 << 16 | 2) + 4, k.ColumnKind(k.DECIMAL, "numeric(14, 2)", precision=14, scale=2)),
        (1700, -1, k.ColumnKind(k.DECIMAL_TEXT, "numeric")),
        (20, -1, INT8),
        (700, -1, REAL),
        (701, -1, DOUBLE),
        (1043, 54, VARCHAR_50),
        (114, -1, None),  # json: not followed
    ],
)
def test_postgres_relation_types(oid: int, modifier: int, kind: k.ColumnKind | None) -> None:
    type_ = relation_types.column_type(oid, modifier)
    found = None if type_ is None else k.column_kind(type_, postgresql.dialect())
    assert found == kind


@pytest.mark.parametrize(
    ("code", "facts", "definition", "charset", "kind", "precision"),
    [
        (FIELD_TYPE.NEWDECIMAL, {"precision": 14, "decimals": 2}, "decimal(14,2)", None, k.DECIMAL, 14),
        (FIELD_TYPE.LONGLONG, {}, "bigint(20) unsigned", None, k.UINT64, None),
        (FIELD_TYPE.LONG, {}, "int(11)", None, k.INT, None),
        (FIELD_TYPE.FLOAT, {}, "float", None, k.FLOAT32, None),
        (FIELD_TYPE.DOUBLE, {}, "double", None, k.FLOAT, None),
        (FIELD_TYPE.VARCHAR, {"max_length": 200}, "varchar(50)", "utf8mb4", k.STRING, None),
        (FIELD_TYPE.TINY, {}, "tinyint(1)", None, None, None),  # a boolean: not followed
        (FIELD_TYPE.VARCHAR, {"max_length": 8}, "varbinary(8)", None, None, None),  # bytes
        (FIELD_TYPE.STRING, {}, "enum('a','b')", "utf8mb4", None, None),
    ],
)
def test_mariadb_table_map_types(
    code: int,
    facts: dict[str, int],
    definition: str,
    charset: str | None,
    kind: str | None,
    precision: int | None,
) -> None:
    column = SimpleNamespace(type=code, **facts)
    type_ = table_map_types.column_type(column, definition, charset)
    found = None if type_ is None else k.column_kind(type_, mysql.dialect())
    assert (found.kind if found else None) == kind
    assert (found.precision if found else None) == precision
