"""Singer records → Arrow, a chunk at a time, with rows that cannot be written set aside.

The fast path is one ``pa.Table.from_pylist`` call per chunk followed by vectorized casts;
per-value Python work happens only for columns whose values do not convert (to find the bad
rows and say why) and for ``time`` columns.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from dativo_singer import value_contract as contract
from dativo_singer.arrow_types import JSON_TEXT, NESTED_AS_JSON, arrow_schema, json_text_kind
from dativo_singer.exact_json import exact_json, loads_exact
from dativo_singer.record_text import line_array, parsed_records

METADATA_PREFIX = "_sdc_"  # Singer metadata fields are never a schema violation
# Field metadata of a BATCH file's string column that holds JSON text (see convert_table).
JSON_TEXT_KEY, JSON_TEXT_VALUE = b"dativo.json", b"text"
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)


@dataclass(frozen=True)
class Rejected:
    """A record that cannot be written, and why; ``raw`` is the RECORD message line as it came,
    when it came as a line."""

    record: dict[str, Any]
    reason: str
    raw: bytes | None = None


def _time(value: Any) -> dt.time:
    return value if isinstance(value, dt.time) else dt.time.fromisoformat(str(value))


def _python_parser(arrow: pa.DataType) -> Callable[[Any], Any] | None:
    """The value contract's parser of a type whose values Arrow alone may not take exactly."""
    if pa.types.is_timestamp(arrow):
        return contract.timestamp_value
    if pa.types.is_date(arrow):
        return contract.date_value
    if pa.types.is_time(arrow):
        return _time
    if pa.types.is_decimal(arrow):
        return functools.partial(contract.decimal_in, precision=arrow.precision, scale=arrow.scale)
    if pa.types.is_floating(arrow):
        return contract.float_value
    if pa.types.is_integer(arrow):
        return contract.integer_value
    return None


def _ingest_type(arrow: pa.DataType, lines: bool = False) -> pa.DataType:
    """The type values arrive in before the vectorized cast: from Python records, or (``lines``)
    from Arrow's JSON reader, which parses decimals exactly from the digits."""
    if pa.types.is_timestamp(arrow) or pa.types.is_date(arrow) or pa.types.is_time(arrow):
        return pa.string()
    if pa.types.is_decimal(arrow) and arrow.scale and not lines:
        return pa.float64()  # whole-number decimals (integers beyond int64) take Python ints as is
    return arrow


def _kind(arrow: pa.DataType) -> str:
    """The JSON kind of values an Arrow type holds: a BATCH column is cast in bulk only to a type
    of its own kind (the record path refuses ``"1.5"`` for a number and ``true`` for an integer)."""
    if pa.types.is_null(arrow):
        return "null"
    if pa.types.is_integer(arrow) or pa.types.is_floating(arrow) or pa.types.is_decimal(arrow):
        return "number"
    if pa.types.is_boolean(arrow):
        return "boolean"
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow) or pa.types.is_temporal(arrow):
        return "text"
    return str(arrow)


def _inferred_property(values: list[Any]) -> dict[str, Any]:
    """The property of an undeclared field from its values: one JSON type (strings, booleans,
    integers, numbers), else untyped (JSON text, as for objects and arrays)."""
    kinds = {type(v) for v in values if v is not None}
    if kinds == {str}:
        return {"type": ["string", "null"]}
    if kinds == {bool}:
        return {"type": ["boolean", "null"]}
    if kinds and kinds <= {int, float, Decimal}:
        return {"type": ["integer" if kinds == {int} else "number", "null"]}
    return {}


def _json_text_columns(schema: pa.Schema, properties: dict[str, Any]) -> dict[str, str]:
    """Column → how it holds JSON text (``json_text_kind``), for the columns that do."""
    kinds = {f.name: json_text_kind(properties.get(f.name, {}), f.type) for f in schema}
    return {name: kind for name, kind in kinds.items() if kind is not None}


def cast_or_reject(
    values: pa.ChunkedArray | list[Any],
    field: pa.Field,
    reasons: dict[int, str],
    fits: str = "does not fit",
) -> pa.ChunkedArray:
    """``values`` cast to ``field``'s type; values that do not fit become null and their row index
    gets a reason (``field 'x': <value> <fits> <type>``), unless it already has one."""
    if not isinstance(values, list):
        try:
            return pc.cast(values, field.type)
        except _ARROW_ERRORS:
            values = values.to_pylist()
    kept: list[Any] = []
    for index, value in enumerate(values):
        try:
            kept.append(None if value is None else pa.scalar(value).cast(field.type).as_py())
        except _ARROW_ERRORS:
            reasons.setdefault(index, f"field {field.name!r}: {value!r} {fits} {field.type}")
            kept.append(None)
    return pa.chunked_array([pa.array(kept, type=field.type)])


class RecordConverter:
    """Converts chunks of one stream's records into Arrow tables of the stream's schema."""

    def __init__(
        self,
        singer_schema: dict[str, Any],
        key_properties: list[str],
        *,
        nested: str = NESTED_AS_JSON,
        strict: bool = False,
        keep_metadata: bool = False,
        keep_columns: frozenset[str] = frozenset(),
    ) -> None:
        if not keep_metadata:  # Singer `_sdc_` fields are left out, except ``keep_columns``
            properties = singer_schema.get("properties") or {}
            singer_schema = {
                **singer_schema,
                "properties": {
                    k: v
                    for k, v in properties.items()
                    if not k.startswith(METADATA_PREFIX) or k in keep_columns
                },
            }
        self._key_properties, self._nested, self._strict = key_properties, nested, strict
        self._build(singer_schema)

    def _build(self, singer_schema: dict[str, Any]) -> None:
        """Derive the Arrow schemas and parse options from the stream's Singer schema."""
        key_properties, nested = self._key_properties, self._nested
        self._singer_schema = singer_schema
        self.schema = arrow_schema(singer_schema, key_properties, nested)
        properties = singer_schema.get("properties") or {}
        self._json_columns = _json_text_columns(self.schema, properties)
        self._ingest = pa.schema([pa.field(f.name, _ingest_type(f.type)) for f in self.schema])
        self._known = frozenset(self.schema.names)
        self._integer_columns = [f for f in self.schema if pa.types.is_integer(f.type)]
        self._keys = [k for k in key_properties if k in self._known]
        # Whole RECORD lines parsed by Arrow's JSON reader: possible when no column needs JSON
        # text made from objects (Arrow cannot stringify them).
        self.parses_lines = not self._json_columns
        self._envelope = pa.schema(
            [
                pa.field("type", pa.string()),
                pa.field("stream", pa.string()),
                pa.field(
                    "record", pa.struct([pa.field(f.name, _ingest_type(f.type, True)) for f in self.schema])
                ),
                pa.field("time_extracted", pa.string()),
                pa.field("version", pa.int64()),
            ]
        )
        # Fields outside the schema are inferred, then their names checked: `_sdc_` fields keep
        # the chunk on this path; others take the record path (rejected, or new columns).
        self._parse_options = pajson.ParseOptions(
            explicit_schema=self._envelope, unexpected_field_behavior="infer"
        )
        self._record_options = pajson.ParseOptions(
            explicit_schema=pa.schema(list(self._envelope.field("record").type)),
            unexpected_field_behavior="infer",
        )

    def convert(self, records: list[dict[str, Any]]) -> tuple[pa.Table, list[Rejected]]:
        """The chunk as Arrow (rows that failed left out) and the rejected records with reasons."""
        return self._convert(records, None)

    def _convert(
        self, records: list[dict[str, Any]], lines: Sequence[bytes] | None
    ) -> tuple[pa.Table, list[Rejected]]:
        reasons: dict[int, str] = {}
        if not self._strict:
            self._add_columns(records)
        if self._strict:
            known = self._known
            for index, record in enumerate(records):
                if not record.keys() <= known:
                    extra = sorted(k for k in set(record) - known if not k.startswith(METADATA_PREFIX))
                    if extra:
                        reasons[index] = f"field(s) not in the schema: {', '.join(extra)}"
        for field in self._integer_columns:  # Arrow would truncate 2.7 to 2: refuse it first
            for index, record in enumerate(records):
                value = record.get(field.name)
                if value.__class__ is float or value.__class__ is Decimal:
                    try:
                        contract.integer_value(value)
                    except ValueError:
                        reason = f"field {field.name!r}: {value!r} is not a valid {field.type}"
                        reasons.setdefault(index, reason)
        rows = records
        if self._json_columns:
            rows = [dict(record) for record in records]  # records stay as sent, for dead letters
            for name, kind in self._json_columns.items():
                for row in rows:
                    value = row.get(name)
                    # A string in an object/array column is JSON text already (as taps send it).
                    if value is not None and (kind == JSON_TEXT or not isinstance(value, str)):
                        row[name] = exact_json(value).decode()
        try:
            table = pa.Table.from_pylist(rows, schema=self._ingest)
        except _ARROW_ERRORS:
            table = self._columns_one_by_one(rows, reasons)
        return self._finish(table, records.__getitem__, reasons, lines.__getitem__ if lines else None)

    def _add_columns(self, records: list[dict[str, Any]]) -> None:
        """Relaxed mode: a field outside the schema (undeclared, or removed by a later SCHEMA)
        becomes a column typed from its values (``_inferred_property``); never dropped."""
        known = self._known
        extra = {
            name
            for record in records
            if not record.keys() <= known
            for name, value in record.items()
            if value is not None and name not in known and not name.startswith(METADATA_PREFIX)
        }  # a field that is null in every record carries nothing to keep yet
        if extra:
            added = {name: _inferred_property([r.get(name) for r in records]) for name in sorted(extra)}
            properties = {**(self._singer_schema.get("properties") or {}), **added}
            self._build({**self._singer_schema, "properties": properties})

    def convert_lines(self, lines: Sequence[bytes]) -> tuple[pa.Table, list[Rejected]]:
        """Like ``convert`` for raw RECORD message lines, parsed in bulk by Arrow's JSON reader.

        Any surprise (a value of another type, an unknown field in strict mode, a null key) sends
        the chunk down the record-by-record path, which finds and explains the bad rows."""
        table = self._parse_lines(lines) if self.parses_lines else None
        if table is None:
            return self._convert([loads_exact(line)["record"] for line in lines], lines)
        return self._finish(table, lambda index: loads_exact(lines[index])["record"], {}, lines.__getitem__)

    def convert_table(self, table: pa.Table) -> tuple[pa.Table, list[Rejected]]:
        """Like ``convert`` for an Arrow table (a BATCH message's Parquet file): columns are cast
        to their ingest types in bulk; any surprise falls back to the record-by-record path.

        A string column whose field metadata says ``dativo.json: text`` holds JSON text already
        (a database tap's JSON and array values): in bulk it is taken as is for a JSON-text
        column; on the record path each value is decoded first, so it lands as a RECORD would."""
        unknown = [
            n for n in table.column_names if n not in self._known and not n.startswith(METADATA_PREFIX)
        ]
        encoded = {
            f.name
            for f in table.schema
            if pa.types.is_string(f.type) and (f.metadata or {}).get(JSON_TEXT_KEY) == JSON_TEXT_VALUE
        }
        if not unknown and set(self._json_columns) <= encoded:
            try:
                fields = zip(self._ingest, self.schema, strict=True)
                ingest = pa.Table.from_arrays(
                    [self._ingest_column(table, f, final) for f, final in fields],
                    names=self._ingest.names,
                )
            except _ARROW_ERRORS:
                pass
            else:
                if not any(ingest.column(key).null_count for key in self._keys):
                    return self._finish(ingest, lambda index: table.slice(index, 1).to_pylist()[0], {})
        records = table.to_pylist()
        for name in encoded:
            for record in records:
                if record.get(name) is not None:
                    record[name] = loads_exact(record[name])
        return self.convert(records)

    @staticmethod
    def _ingest_column(table: pa.Table, ingest: pa.Field, final: pa.Field) -> pa.ChunkedArray:
        """A column of a BATCH table in its ingest type; one already in its final type (a tap's
        typed Parquet: timestamps, dates, decimals) is kept as is, not re-encoded."""
        if ingest.name not in table.column_names:
            return pa.chunked_array([pa.nulls(table.num_rows, ingest.type)])
        column = table.column(ingest.name)
        if column.type == final.type:
            return column
        if _kind(column.type) not in (_kind(final.type), "null"):  # "1.5" → double, true → 1: as
            raise pa.ArrowInvalid(f"{ingest.name}: {column.type} is not {final.type}")  # records do
        return column.cast(ingest.type)

    def _parse_lines(self, lines: Sequence[bytes]) -> pa.Table | None:
        records = parsed_records(line_array(lines), self._record_options, self._parse_options)
        return None if records is None else self._checked(records)

    def _checked(self, record: pa.Table) -> pa.Table | None:
        """The parsed records in the ingest schema; None when a field is outside the schema, a
        key is null or a decimal exceeds its precision (the record path explains those)."""
        names = record.column_names
        if any(name not in self._known and not name.startswith(METADATA_PREFIX) for name in names):
            return None  # the record path rejects (strict) or adds (relaxed) fields outside the schema
        table = pa.Table.from_arrays(
            [record.column(name) for name in self._ingest.names], names=self._ingest.names
        )
        if any(table.column(key).null_count for key in self._keys):
            return None
        try:  # Arrow's JSON reader does not check a decimal's precision: the record path does
            for field in table.schema:
                if pa.types.is_decimal(field.type):
                    table.column(field.name).validate(full=True)
        except pa.ArrowInvalid:
            return None
        return table

    def _finish(
        self,
        table: pa.Table,
        record_at: Callable[[int], dict[str, Any]],
        reasons: dict[int, str],
        raw_at: Callable[[int], bytes] | None = None,
    ) -> tuple[pa.Table, list[Rejected]]:
        """Cast ingest columns to their final types, check required fields, drop bad rows."""
        columns = []
        for field in self.schema:
            column = table.column(field.name)
            if column.type != field.type:
                column = self._cast(column, field, record_at, reasons)
            columns.append(column)
        for field, column in zip(self.schema, columns, strict=True):
            if not field.nullable and column.null_count:
                for index in pc.indices_nonzero(pc.is_null(column)).to_pylist():
                    reasons.setdefault(index, f"required field {field.name!r} is missing or null")
        result = pa.Table.from_arrays(columns, schema=self.schema.with_metadata({}))
        if not reasons:
            return result, []
        keep = pa.array([i not in reasons for i in range(table.num_rows)])
        rejected = [
            Rejected(record_at(i), reasons[i], raw_at(i) if raw_at else None) for i in sorted(reasons)
        ]
        return result.filter(keep), rejected

    def _columns_one_by_one(self, records: list[dict[str, Any]], reasons: dict[int, str]) -> pa.Table:
        """Slow path: build each column alone; values that do not fit become null + a reason.

        Columns with a Python parser (decimal, date, time, timestamp) are parsed value by value
        straight into their final type, so numeric strings are accepted for decimals."""
        arrays = []
        for field, final in zip(self._ingest, self.schema, strict=True):
            values = [record.get(field.name) for record in records]
            parse = _python_parser(final.type)
            try:
                arrays.append(pa.array(values, type=field.type))
                continue
            except _ARROW_ERRORS:
                pass
            cleaned: list[Any] = []
            for index, value in enumerate(values):
                try:
                    if value is not None:
                        value = parse(value) if parse else value
                        pa.array([value], type=final.type if parse else field.type)
                    cleaned.append(value)
                except (*_ARROW_ERRORS, ValueError, TypeError):
                    reasons.setdefault(index, f"field {field.name!r}: {value!r} is not a valid {final.type}")
                    cleaned.append(None)
            arrays.append(pa.array(cleaned, type=final.type if parse else field.type))
        return pa.Table.from_arrays(arrays, names=self._ingest.names)

    def _cast(
        self,
        column: pa.ChunkedArray,
        field: pa.Field,
        record_at: Callable[[int], dict[str, Any]],
        reasons: dict[int, str],
    ) -> pa.ChunkedArray:
        if not pa.types.is_time(field.type):
            try:
                if pa.types.is_decimal(field.type) and pa.types.is_floating(column.type):
                    # A float's shortest text is its JSON digits: cast from those, so a value
                    # with more digits than the scale is refused, never rounded.
                    return pc.cast(pc.cast(column, pa.string()), field.type)
                return pc.cast(column, field.type)
            except _ARROW_ERRORS:
                pass
        if pa.types.is_timestamp(field.type):  # ISO strings without an offset are UTC
            try:
                naive = pc.cast(column, pa.timestamp(field.type.unit))
                return pc.assume_timezone(naive, "UTC").cast(field.type)
            except _ARROW_ERRORS:
                pass
        parse = _python_parser(field.type)
        assert parse is not None
        values: list[Any] = []
        for index, value in enumerate(column.to_pylist()):
            if value is None:
                values.append(None)
                continue
            original = record_at(index).get(field.name, value)
            try:
                values.append(parse(original))
            except (ValueError, TypeError):
                reasons.setdefault(index, f"field {field.name!r}: {original!r} is not a valid {field.type}")
                values.append(None)
        try:
            return pa.chunked_array([pa.array(values, type=field.type)])
        except _ARROW_ERRORS:  # e.g. a decimal beyond the column's precision
            return cast_or_reject(values, field, reasons)
