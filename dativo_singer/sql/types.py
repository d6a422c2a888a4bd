"""Database column types → kinds → Singer JSON Schema, for PostgreSQL and MySQL/MariaDB.

A column is first given a *kind* (the one fact every later step needs: how it is selected, how a
value becomes JSON, how an Arrow column is cast). Types with no kind are *unmapped*: they are
selected as the database's own text form of the value (``col::text``, ``CAST(col AS CHAR)``),
declared ``string``, and named once in a warning. See docs/DATABASES.md for the table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from dativo_singer.arrow_types import decimal_string_pattern

INT = "integer"
UINT64 = "unsigned_bigint"
DECIMAL = "decimal"
FLOAT = "float"
FLOAT32 = "float32"
BOOLEAN = "boolean"
INT_BOOLEAN = "int_boolean"  # MySQL tinyint(1) / bit(1): 0 is false, anything else true
BIT = "bit"  # MySQL bit(n > 1): an unsigned integer
STRING = "string"
DATE = "date"
TIME = "time"
# MySQL TIME: a duration from -838:59:59 to 838:59:59, which no Iceberg `time` (one day) holds:
# read as MySQL's own text of it (`CAST(col AS CHAR)`: `-01:30:00`, `838:59:59.000000`).
TIME_TEXT = "time_text"
TIMESTAMP = "timestamp"  # without time zone: the value is taken as UTC
TIMESTAMPTZ = "timestamptz"
JSON = "json"
UUID = "uuid"
BINARY = "binary"  # lowercase hex text
ARRAY = "array"
UNMAPPED = "unmapped"
# A numeric without precision (PostgreSQL `numeric`): any number of digits, NaN and ±Infinity,
# which no decimal(38, s) holds and a double would round: carried exactly as its text.
DECIMAL_TEXT = "decimal_text"

# Kinds a replication key may have (ordered, comparable, exact).
REPLICATION_KEY_KINDS = (INT, UINT64, DECIMAL, DATE, TIMESTAMP, TIMESTAMPTZ, STRING)
# Kinds the look-back window applies to.
TEMPORAL_KINDS = (DATE, TIMESTAMP, TIMESTAMPTZ)

_INT_BOUNDS = {2: 2**15, 3: 2**23, 4: 2**31, 8: 2**63}

# singer-sdk reads JSON numbers as Python decimals and checks ``multipleOf`` in the default
# decimal context of 28 digits: a wider decimal fails there (DivisionImpossible), so it is sent
# as a string in singer-sdk's own decimal format, with its precision and scale.
NUMBER_DECIMAL_DIGITS = 28
SINGER_DECIMAL_FORMAT = "x-singer.decimal"
# Every JSON type: a json/jsonb column holds any document (singer-sdk peers expect a type).
ANY_JSON_TYPES = ["object", "array", "string", "number", "integer", "boolean"]


@dataclass(frozen=True)
class ColumnKind:
    """How one database column is read."""

    kind: str
    type_text: str
    precision: int | None = None
    scale: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    item: ColumnKind | None = None
    # A decimal sent as a string (``x-singer.decimal``): by default beyond 28 digits; a catalog
    # declaring the column a number (or such a string) decides for its stream.
    as_string: bool = False

    def json_schema(self) -> dict[str, Any]:
        """The Singer JSON Schema property (without null) of a value of this kind."""
        if self.kind in (INT, UINT64, BIT):
            prop: dict[str, Any] = {"type": "integer"}
            if self.minimum is not None:
                prop["minimum"] = self.minimum
            if self.maximum is not None:
                prop["maximum"] = self.maximum
            return prop
        if self.kind == DECIMAL:
            return decimal_schema(self.precision, self.scale, as_string=self.as_string)
        if self.kind in (FLOAT, FLOAT32):
            return {"type": "number"}
        if self.kind in (BOOLEAN, INT_BOOLEAN):
            return {"type": "boolean"}
        if self.kind == DATE:
            return {"type": "string", "format": "date"}
        if self.kind == TIME:
            return {"type": "string", "format": "time"}
        if self.kind in (TIMESTAMP, TIMESTAMPTZ):
            return {"type": "string", "format": "date-time"}
        if self.kind == JSON:
            return {"type": list(ANY_JSON_TYPES)}
        if self.kind == UUID:
            return {"type": "string", "format": "uuid"}
        if self.kind == BINARY:
            return {"type": "string", "contentEncoding": "base16"}
        if self.kind == ARRAY and self.item is not None:
            return {"type": "array", "items": _nullable(self.item.json_schema())}
        return {"type": "string"}

    @property
    def decimal_as_string(self) -> bool:
        """True for a decimal sent as a string (``x-singer.decimal``)."""
        return self.kind == DECIMAL and self.as_string

    def as_declared(self, prop: dict[str, Any] | None) -> ColumnKind:
        """This kind with its decimals sent as the stream's schema declares them: a string
        property of format ``x-singer.decimal`` as strings, a number as numbers."""
        if self.kind != DECIMAL or not prop:
            return self
        types = prop.get("type")
        as_string = "string" in (types if isinstance(types, list) else [types])
        return replace(self, as_string=as_string and prop.get("format") == SINGER_DECIMAL_FORMAT)


def decimal_schema(precision: int | None, scale: int | None, *, as_string: bool = False) -> dict[str, Any]:
    """A decimal as the asset spec declares ``decimal(p,s)`` (``multipleOf`` + ``maximum``), or
    beyond 28 digits a string of format ``x-singer.decimal`` with ``precision`` and ``scale``; a
    numeric without precision is a plain number."""
    if precision is None:
        return {"type": "number"}
    scale = scale or 0
    if as_string:
        return {
            "type": "string",
            "format": SINGER_DECIMAL_FORMAT,
            "pattern": decimal_string_pattern(precision, scale),
        }
    step = Decimal(1).scaleb(-scale)
    return {
        "type": "number",
        "multipleOf": float(step),
        "maximum": float(Decimal(10) ** (precision - scale) - step),
    }


def _nullable(prop: dict[str, Any]) -> dict[str, Any]:
    if "type" not in prop:
        return prop
    types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    return {**prop, "type": [*types, "null"]}


def _int_kind(type_: sa.types.TypeEngine, text: str, width: int) -> ColumnKind:
    unsigned = bool(getattr(type_, "unsigned", False))
    if unsigned:
        top = 2 ** (8 * width) - 1
        return ColumnKind(UINT64 if width == 8 else INT, text, minimum=0, maximum=top)
    bound = _INT_BOUNDS[width]
    return ColumnKind(INT, text, minimum=-bound, maximum=bound - 1)


def _int_width(type_: sa.types.TypeEngine) -> int:
    if isinstance(type_, sa.BigInteger):
        return 8
    if isinstance(type_, mysql.MEDIUMINT):
        return 3
    if isinstance(type_, sa.SmallInteger | mysql.TINYINT):
        return 2
    return 4


def column_kind(type_: sa.types.TypeEngine, dialect: sa.Dialect | None = None) -> ColumnKind:
    """The kind of a reflected SQLAlchemy column type (PostgreSQL or MySQL/MariaDB)."""
    text = _type_text(type_, dialect)
    if isinstance(type_, mysql.TINYINT) and getattr(type_, "display_width", None) == 1:
        return ColumnKind(INT_BOOLEAN, text)
    if isinstance(type_, mysql.BIT):
        length = type_.length or 1
        return ColumnKind(INT_BOOLEAN if length == 1 else BIT, text, minimum=0, maximum=2**length - 1)
    if isinstance(type_, mysql.YEAR):
        return ColumnKind(INT, text, minimum=0, maximum=2155)
    if isinstance(type_, sa.Integer):
        if isinstance(type_, mysql.TINYINT):
            unsigned = bool(getattr(type_, "unsigned", False))
            return ColumnKind(INT, text, minimum=0 if unsigned else -128, maximum=255 if unsigned else 127)
        return _int_kind(type_, text, _int_width(type_))
    if isinstance(type_, postgresql.MONEY | postgresql.INTERVAL):
        return ColumnKind(UNMAPPED, text)
    if isinstance(type_, sa.Float | postgresql.DOUBLE_PRECISION | postgresql.REAL):
        single = isinstance(type_, postgresql.REAL) or (
            isinstance(type_, mysql.FLOAT) and (type_.precision or 0) <= 24
        )
        return ColumnKind(FLOAT32 if single else FLOAT, text)
    if isinstance(type_, sa.Numeric):
        if type_.precision is None:
            return ColumnKind(DECIMAL_TEXT, text)
        wide = type_.precision > NUMBER_DECIMAL_DIGITS
        return ColumnKind(DECIMAL, text, precision=type_.precision, scale=type_.scale, as_string=wide)
    if isinstance(type_, sa.Boolean):
        return ColumnKind(BOOLEAN, text)
    if isinstance(type_, mysql.TIMESTAMP):  # an instant, shown in the session's time zone
        return ColumnKind(TIMESTAMPTZ, text)
    if isinstance(type_, sa.DateTime):
        return ColumnKind(TIMESTAMPTZ if getattr(type_, "timezone", False) else TIMESTAMP, text)
    if isinstance(type_, sa.Date):
        return ColumnKind(DATE, text)
    if isinstance(type_, mysql.TIME):
        return ColumnKind(TIME_TEXT, text)
    if isinstance(type_, sa.Time):
        return ColumnKind(UNMAPPED if getattr(type_, "timezone", False) else TIME, text)
    if isinstance(type_, sa.JSON):
        return ColumnKind(JSON, text)
    if isinstance(type_, sa.Uuid):
        return ColumnKind(UUID, text)
    if isinstance(type_, sa.LargeBinary | sa.types._Binary):
        return ColumnKind(BINARY, text)
    if isinstance(type_, postgresql.ARRAY):
        item = column_kind(type_.item_type, dialect)
        # Arrays of values whose JSON form is the same however they are read (see docs).
        if item.kind not in (INT, BOOLEAN, FLOAT) and not _plain_text(type_.item_type):
            return ColumnKind(UNMAPPED, text)
        return ColumnKind(ARRAY, text, item=item)
    if isinstance(type_, sa.Enum | sa.String):
        return ColumnKind(STRING, text)
    return ColumnKind(UNMAPPED, text)


def _plain_text(type_: sa.types.TypeEngine) -> bool:
    return isinstance(type_, sa.String) and not isinstance(type_, sa.Enum)


def _type_text(type_: sa.types.TypeEngine, dialect: sa.Dialect | None) -> str:
    try:
        return str(type_.compile(dialect=dialect)).lower()
    except Exception:  # a type SQLAlchemy reflects but cannot render (NullType)
        return type(type_).__name__.lower()
