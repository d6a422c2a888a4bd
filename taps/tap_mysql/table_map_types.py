"""Column types as a binlog table map carries them (type code and metadata: a DECIMAL's
precision and scale, a VARCHAR's length, FLOAT or DOUBLE, the integer's width): the kinds of the
types ``ALTER TABLE ... MODIFY`` may change a column to and from that the target can follow
(docs/CDC.md). Signedness and character sets, which the table map does not carry below
``binlog_row_metadata=FULL``, come from the table's definition; other types are left to the
stream's own kinds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pymysqlreplication.constants import FIELD_TYPE
from sqlalchemy.dialects import mysql

if TYPE_CHECKING:
    from dativo_singer.sql.stream import DatabaseStream
    from dativo_singer.sql.types import ColumnKind

_INTEGERS: dict[int, type[sa.types.TypeEngine]] = {
    FIELD_TYPE.TINY: mysql.TINYINT,
    FIELD_TYPE.SHORT: mysql.SMALLINT,
    FIELD_TYPE.INT24: mysql.MEDIUMINT,
    FIELD_TYPE.LONG: mysql.INTEGER,
    FIELD_TYPE.LONGLONG: mysql.BIGINT,
}
_TEXTS = (FIELD_TYPE.VARCHAR, FIELD_TYPE.VAR_STRING, FIELD_TYPE.STRING)
Described = tuple[Any, str, "str | None"]  # (table-map column, column definition, character set)


def column_type(column: Any, definition: str, charset: str | None) -> sa.types.TypeEngine | None:
    """The SQLAlchemy type of a table-map column (None: not one of these types)."""
    code = column.type
    if code in _INTEGERS:
        if definition.startswith(("tinyint(1)", "bit", "year", "bool")):  # booleans: not followed
            return None
        return _INTEGERS[code](unsigned="unsigned" in definition)  # type: ignore[call-arg]
    if code == FIELD_TYPE.FLOAT:
        return mysql.FLOAT()
    if code == FIELD_TYPE.DOUBLE:
        return mysql.DOUBLE()
    if code == FIELD_TYPE.NEWDECIMAL:
        return mysql.DECIMAL(precision=column.precision, scale=column.decimals)
    if code in _TEXTS and charset and not definition.startswith(("enum", "set")):
        return mysql.VARCHAR(getattr(column, "max_length", None))
    return None


def signature(described: list[Described]) -> tuple[Any, ...]:
    """What a table map says of its columns' types (unchanged: nothing to look at again)."""
    facts = ("precision", "decimals", "max_length")
    return tuple((c.type, *(getattr(c, name, None) for name in facts), d) for c, d, _ in described)


def table_map_kinds(stream: DatabaseStream, described: list[Described]) -> dict[str, ColumnKind]:
    """Kinds of the table map's columns of the stream whose types are known here."""
    kinds = {}
    for column, definition, charset in described:
        type_ = column_type(column, definition, charset)
        if type_ is not None and column.name in stream.columns:
            kinds[column.name] = stream.db.kind_of(type_, f"{stream.table_label()}.{column.name}")
    return kinds
