"""Column types as a ``pgoutput`` Relation message names them (type OID and modifier): the kinds
of the types a column may be changed to and from by ``ALTER TABLE ... ALTER COLUMN ... TYPE``
that the target can follow (docs/CDC.md). Other types are left to the stream's own kinds."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from tap_postgres.pgoutput import Relation

if TYPE_CHECKING:
    from dativo_singer.sql.stream import DatabaseStream
    from dativo_singer.sql.types import ColumnKind

_VARHDRSZ = 4  # a type modifier counts the varlena header
_PLAIN: dict[int, sa.types.TypeEngine] = {
    20: postgresql.BIGINT(),
    21: postgresql.SMALLINT(),
    23: postgresql.INTEGER(),
    25: postgresql.TEXT(),
    700: postgresql.REAL(),
    701: postgresql.DOUBLE_PRECISION(),
}
_NUMERIC, _VARCHAR, _BPCHAR = 1700, 1043, 1042


def column_type(oid: int, modifier: int) -> sa.types.TypeEngine | None:
    """The SQLAlchemy type of a column of type ``oid`` with ``modifier`` (None: not one of these)."""
    if oid in _PLAIN:
        return _PLAIN[oid]
    size = modifier - _VARHDRSZ if modifier >= _VARHDRSZ else None
    if oid == _NUMERIC:
        if size is None:
            return postgresql.NUMERIC()
        return postgresql.NUMERIC(precision=(size >> 16) & 0xFFFF, scale=size & 0xFFFF)
    if oid == _VARCHAR:
        return postgresql.VARCHAR(size)
    if oid == _BPCHAR:
        return postgresql.CHAR(size)
    return None


def relation_kinds(stream: DatabaseStream, relation: Relation) -> dict[str, ColumnKind]:
    """Kinds of the relation's columns of the stream whose types are known here."""
    kinds = {}
    for (name, oid), modifier in zip(relation.columns, relation.type_modifiers, strict=False):
        type_ = column_type(oid, modifier)
        if type_ is not None and name in stream.columns:
            kinds[name] = stream.db.kind_of(type_, f"{stream.table_label()}.{name}")
    return kinds
