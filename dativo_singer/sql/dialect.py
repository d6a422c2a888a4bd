"""What differs between PostgreSQL and MySQL/MariaDB: quoting, the SELECT expression of each column
kind, literals of bookmark values. Both read paths (RECORD and the Arrow fast path) run the same
SQL text, so the database hands them the same values."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from decimal import Decimal
from typing import Any

from dativo_singer.sql import types as k


class SqlDialect(ABC):
    """The SQL text a database tap runs."""

    name: str

    @abstractmethod
    def quote(self, identifier: str) -> str:
        """A quoted identifier."""

    @abstractmethod
    def select_expression(self, column: str, kind: k.ColumnKind) -> str:
        """The expression a column is read with (before ``AS``)."""

    @abstractmethod
    def quote_string(self, text: str) -> str:
        """A string literal."""

    def table_ref(self, schema: str | None, table: str) -> str:
        """``schema.table``, quoted."""
        return f"{self.quote(schema)}.{self.quote(table)}" if schema else self.quote(table)

    def literal(self, value: Any, kind: k.ColumnKind) -> str:
        """A bookmark value as a literal comparable with the column's select expression."""
        if kind.kind in (k.INT, k.UINT64, k.BIT):
            return str(int(value))
        if kind.kind == k.DECIMAL:
            return str(Decimal(str(value)))
        if kind.kind in (k.TIMESTAMP, k.TIMESTAMPTZ):
            moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
            if moment.tzinfo is not None:
                moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
            return self.quote_string(moment.isoformat(sep=" ", timespec="microseconds"))
        if kind.kind == k.DATE:
            text = value.isoformat() if isinstance(value, dt.date) else str(value)[:10]
            return self.quote_string(text)
        return self.quote_string(str(value))

    def query(
        self,
        schema: str | None,
        table: str,
        columns: dict[str, k.ColumnKind],
        replication_key: str | None,
        start: Any | None,
        conditions: tuple[str, ...] = (),
    ) -> str:
        """SELECT of the columns (each under its own name), from ``start`` on the replication
        key (inclusive) and ordered by it; ``conditions`` (a slice of the table) are and-ed in."""
        select = ", ".join(
            f"{self.select_expression(name, kind)} AS {self.quote(name)}" for name, kind in columns.items()
        )
        sql = f"SELECT {select} FROM {self.table_ref(schema, table)}"
        where = [f"({condition})" for condition in conditions]
        key = self.select_expression(replication_key, columns[replication_key]) if replication_key else None
        if replication_key and key and start is not None:
            where.append(f"{key} >= {self.literal(start, columns[replication_key])}")
        if where:
            sql += " WHERE " + " AND ".join(where)
        if key:
            sql += f" ORDER BY {key}"
        return sql

    def window(self, column: str, kind: k.ColumnKind, start: str, end: str) -> str:
        """``start <= column < end``, the bounds as literals of the column's kind."""
        expression = self.select_expression(column, kind)
        return f"{expression} >= {self.literal(start, kind)} AND {expression} < {self.literal(end, kind)}"


class PostgresDialect(SqlDialect):
    """PostgreSQL 12+ (sessions run with ``TimeZone=UTC``)."""

    name = "postgresql"

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def quote_string(self, text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def select_expression(self, column: str, kind: k.ColumnKind) -> str:
        q = self.quote(column)
        if kind.kind in (k.JSON, k.UUID, k.UNMAPPED, k.DECIMAL, k.DECIMAL_TEXT):
            return f"{q}::text"
        if kind.kind == k.BINARY:
            return f"encode({q}, 'hex')"
        return q


class MySQLDialect(SqlDialect):
    """MySQL 8 and MariaDB 10.11."""

    name = "mysql"

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    def quote_string(self, text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"

    def select_expression(self, column: str, kind: k.ColumnKind) -> str:
        q = self.quote(column)
        if kind.kind in (k.UNMAPPED, k.DECIMAL, k.DECIMAL_TEXT, k.UUID, k.TIME_TEXT):
            return f"CAST({q} AS CHAR)"
        if kind.kind == k.BINARY:
            return f"LOWER(HEX({q}))"
        if kind.kind == k.TIMESTAMPTZ:  # TIMESTAMP is shown in the session's zone: read it in UTC
            return f"CONVERT_TZ({q}, @@session.time_zone, '+00:00')"
        if kind.kind == k.INT_BOOLEAN:
            return f"CAST({q} AS SIGNED)"
        if kind.kind == k.BIT:
            return f"CAST({q} AS UNSIGNED)"
        return q
