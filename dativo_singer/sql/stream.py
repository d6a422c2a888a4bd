"""DatabaseStream: one table or view, read in full or from a replication-key bookmark.

RECORD path: the dialect's SELECT read by the connector's Arrow reader and written as RECORD lines
in bulk (``record_lines``), a STATE after every ``STATE_MSG_FREQUENCY`` rows as singer-sdk writes
it; when stream maps, flattening, a record limit (``--test``) or a reader restriction need
singer-sdk's per-record steps, the same SELECT through SQLAlchemy with a server-side cursor, each
row's values made JSON-faithful (``values``). Fast path (``batch_config`` asks for Parquet): the same SELECT
read by the connector's Arrow reader, cast to the stream's types (``arrow_columns``) and written
as Parquet BATCH files (``batch_emit``); the bookmark is advanced to the batch's last key before
the batch is handed over, so the STATE after each BATCH covers exactly the rows sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator, Iterable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.sql import SQLStream

from dativo_singer.batch_records import RecordBatches
from dativo_singer.batch_settings import parquet_batch_config
from dativo_singer.errors import FatalError
from dativo_singer.sdk_internals import (
    StreamHooks,
    catalog_entry,
    connector_connection,
    finalize_state,
    forget_emitted_state,
    stream_tap,
    stream_version,
    to_json_compatible,
    utc_now,
    write_starting_replication_value,
)
from dativo_singer.settings import emits_activate_version
from dativo_singer.sql import types as k
from dativo_singer.sql.arrow_columns import convert_batch, stream_arrow_schema
from dativo_singer.sql.arrow_readers import read_ahead
from dativo_singer.sql.changes import is_log_based
from dativo_singer.sql.record_lines import RecordLineEncoder, write_lines
from dativo_singer.sql.retype import followed, retyped_property, wider_property
from dativo_singer.sql.values import convert_row, record_converters
from dativo_singer.tap_policy import tap_policies
from dativo_singer.text_values import parse_datetime

if TYPE_CHECKING:
    from dativo_singer.sdk_internals import BaseBatchFileEncoding, BatchConfig
    from dativo_singer.sql.connector import DatabaseConnector

# Rows the RECORD path's server-side cursor fetches at a time.
RECORD_FETCH_ROWS = 10_000


class DatabaseStream(RecordBatches, StreamHooks, SQLStream):
    """A table or view of a PostgreSQL or MySQL/MariaDB database."""

    _columns: dict[str, k.ColumnKind] | None = None
    _conditions: tuple[str, ...] | None = None  # row_filter and row_window, once known
    columns_version = 0  # changes when the change log adds or retypes columns
    # ``values`` already makes every value JSON-faithful; singer-sdk's conformance pass would
    # only cost time (and it fails on JSON columns holding arrays: their schema is untyped).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    @property
    def emit_activate_version_messages(self) -> bool:
        """On unless the setting is false: a full-table read replaces what the last one landed."""
        return emits_activate_version(self.config, default=True)

    @property
    def db(self) -> DatabaseConnector:
        """The connector, typed."""
        return self.connector  # type: ignore[return-value]

    def location(self) -> tuple[str | None, str]:
        """(schema, table): the catalog's table metadata, else the ``tables`` setting, else the
        table of the stream's own name."""
        entry = catalog_entry(self)
        if entry.table:
            return entry.metadata.root.schema_name, entry.table
        named = (self.config.get("tables") or {}).get(self.name, self.name)
        schema, _, table = named.rpartition(".")
        return schema or None, table

    def table_label(self) -> str:
        """``schema.table`` as users write it."""
        schema, table = self.location()
        return f"{schema}.{table}" if schema else table

    @property
    def log_based(self) -> bool:
        """True for a LOG_BASED stream (docs/CDC.md)."""
        return is_log_based(self)

    def prepare(self) -> None:
        """Check the table, its selected columns and the replication key; learn column kinds."""
        properties = self.schema.get("properties") or {}
        columns = self.db.prepare_stream(self)
        self._columns = {name: kind.as_declared(properties.get(name)) for name, kind in columns.items()}
        for name, kind in self._columns.items():  # the source's type promotes the declared one
            wider = wider_property(properties.get(name) or {}, kind) if name in properties else None
            if wider is not None:
                label = self.table_label()
                self.logger.info("%s: column %s is %s in the source", label, name, kind.type_text)
                self._declare(name, wider)
        if self.log_based and not self.primary_keys:
            raise FatalError(
                f"table {self.table_label()!r}: LOG_BASED replication needs a primary key (the table "
                "has none, nor does the catalog name key properties)"
            )

        self._slice()  # a row_window column that is missing or not temporal: refused before any row

    def add_log_columns(self, names: list[str]) -> None:
        """Columns the change log shows that the stream lacks (added in the source): added to
        the stream's columns and schema, and a new SCHEMA written."""
        schema, table = self.location()
        reflected = self.db.reflect(schema, table)
        for name in names:
            if name not in reflected:
                continue
            kind = self.db.kind_of(reflected[name], f"{self.table_label()}.{name}")
            self.columns[name] = kind
            prop = kind.json_schema()
            types = prop.get("type")
            if isinstance(types, list) and "null" not in types:
                prop["type"] = [*types, "null"]
            elif isinstance(types, str):
                prop["type"] = [types, "null"]
            self._declare(name, prop)
        self.columns_version += 1
        self.logger.info("%s: column(s) %s added in the source", self.table_label(), ", ".join(names))
        self._write_schema_message()

    def follow_log_types(self, kinds: dict[str, k.ColumnKind]) -> None:
        """Column types the change log shows now: values are read as the log types them, and a
        property ``retype`` changes is declared in a new SCHEMA (docs/CDC.md)."""
        properties = self.schema.get("properties") or {}
        changed = []
        for name, kind in kinds.items():
            old = self.columns.get(name)
            new = kind.as_declared(properties.get(name))
            if old is None or new == old or not (followed(old) and followed(new)):
                continue
            self.columns[name] = new
            self.columns_version += 1
            prop = retyped_property(properties.get(name) or {}, old, new)
            if prop is not None:
                self._declare(name, prop)
                changed.append(f"{name} {old.type_text} -> {new.type_text}")
        if changed:
            label = self.table_label()
            self.logger.info("%s: column type(s) changed in the source: %s", label, ", ".join(changed))
            self._write_schema_message()

    def _declare(self, name: str, prop: dict[str, Any]) -> None:
        """``prop`` as the column's property, in the stream's schema and its stream maps'."""
        self.schema.setdefault("properties", {})[name] = prop
        for stream_map in self.stream_maps:
            mapped = getattr(stream_map, "transformed_schema", None)
            if isinstance(mapped, dict) and mapped is not self.schema:
                mapped.setdefault("properties", {})[name] = prop

    @property
    def columns(self) -> dict[str, k.ColumnKind]:
        """Selected columns (and the replication key) with their kinds, in schema order."""
        if self._columns is None:
            self.prepare()
        assert self._columns is not None
        return self._columns

    def get_starting_replication_key_value(self, context: Any) -> Any | None:
        """The bookmark (or ``start_date``), moved back ``lookback_days`` for temporal keys."""
        value = super().get_starting_replication_key_value(context)
        days = self.config.get("lookback_days")
        if value is None or not days or not self.replication_key:
            return value
        kind = self.columns[self.replication_key].kind
        if kind == k.DATE:
            return (dt.date.fromisoformat(str(value)[:10]) - dt.timedelta(days=int(days))).isoformat()
        moment = parse_datetime(str(value))
        return (moment - dt.timedelta(days=int(days))).isoformat()

    def increment_state(self, latest_record: dict, *, context: Any = None) -> None:
        """Rows re-read in the look-back window leave the bookmark where it was; a decimal key
        sent as a string is bookmarked as a number (compared as one)."""
        key = self.replication_key
        if key and self.columns[key].decimal_as_string and isinstance(latest_record.get(key), str):
            latest_record = {**latest_record, key: Decimal(latest_record[key])}
        if self.replication_key and self.config.get("lookback_days"):
            state = self.get_context_state(context)
            old = to_json_compatible(state.get("replication_key_value"))
            new = to_json_compatible(latest_record.get(self.replication_key))
            if old is not None and new is not None and new < old:
                return
        super().increment_state(latest_record, context=context)

    def _sql(self, context: Any) -> str:
        if self.log_based:  # the snapshot: the whole table
            schema, table = self.location()
            return self.db.dialect.query(schema, table, self.columns, None, None)
        write_starting_replication_value(self, context)
        start = self.get_starting_replication_key_value(context) if self.replication_key else None
        schema, table = self.location()
        return self.db.dialect.query(schema, table, self.columns, self.replication_key, start, self._slice())

    def _slice(self) -> tuple[str, ...]:
        """The conditions of ``row_filter`` and ``row_window`` (a slice of the table)."""
        if self._conditions is not None:
            return self._conditions
        conditions = []
        if self.config.get("row_filter"):
            conditions.append(str(self.config["row_filter"]))
        window = self.config.get("row_window")
        if window:
            kind = self.db.window_kind(self, str(window["column"]))
            conditions.append(self.db.dialect.window(window["column"], kind, window["start"], window["end"]))
        self._conditions = tuple(conditions)
        return self._conditions

    def get_records(self, context: Any) -> Iterable[dict[str, Any]]:
        """Rows as JSON-faithful dicts, through a server-side cursor."""
        sql = self._sql(context)
        converters = record_converters(self.columns)
        try:
            with self.db.guarded(), connector_connection(self.db) as connection:
                result = connection.execution_options(
                    stream_results=True, max_row_buffer=RECORD_FETCH_ROWS
                ).exec_driver_sql(sql)
                for row in result.mappings():
                    yield convert_row(dict(row), converters)
        except ValueError as exc:  # psycopg2: "year -44 is out of range" (a BC date, year 10000)
            raise FatalError(
                f"{self.table_label()}: a value the driver cannot read as Python's date/time ({exc}); "
                "read the column through a view that casts it to text, or leave such rows out"
            ) from None

    def per_record_reason(self, context: Any = None, write_messages: bool = True) -> str | None:
        """Why RECORD messages must go through singer-sdk's per-record steps (None: bulk)."""
        maps = self.stream_maps
        if len(maps) != 1 or type(maps[0]) is not SameRecordTransform or maps[0].stream_alias != self.name:
            return "stream maps"
        if maps[0].flattening_enabled:
            return "flattening"
        if self.ABORT_AT_RECORD_COUNT is not None:
            return "a record limit"
        if not write_messages or context or self.partitions or self.child_streams or not self.selected:
            return "a partitioned or unselected stream"
        if tap_policies(stream_tap(self)).active:
            return "column policies"  # applied to each record as it is written
        if type(self).post_process is not SQLStream.post_process:
            return "post_process"
        return self.db.arrow_reader_problem(self.columns)

    def sync_records(self, context: Any = None, *, write_messages: bool = True) -> Generator[dict, Any, Any]:
        """RECORD messages in bulk unless ``per_record_reason`` says otherwise."""
        if self.log_based and write_messages:
            from dativo_singer.sql import log_sync  # LOG_BASED streams alone load the change path

            position = log_sync.snapshot_position(self)
            if position is not None:
                log_sync.snapshot_records(self, position)
                log_sync.finish_snapshot(self, position)
            log_sync.read_changes(self)
            return
        reason = self.per_record_reason(context, write_messages)
        if reason is not None:
            self.logger.debug("%s: RECORD messages one by one (%s)", self.name, reason)
            yield from super().sync_records(context, write_messages=write_messages)
            return
        self._write_record_lines()

    def _write_record_lines(self) -> None:
        """Every row as RECORD lines written in blocks; the bookmark moved to the block's last
        key before each STATE, which comes after every ``STATE_MSG_FREQUENCY`` rows (where
        singer-sdk writes it) and at the end."""
        sql = self._sql(None)
        emitted = [name for name in self.columns if self.mask[("properties", name)]]
        encoder = RecordLineEncoder(self.name, self.columns, emitted, self.table_label())
        every, sent = self.STATE_MSG_FREQUENCY, 0
        record_counter, timer = self.get_record_counter(), self.get_sync_timer()
        with record_counter, timer:
            record_counter.with_context({})
            timer.with_context({})
            for batch in self._raw_batches(sql):
                offset = 0
                while offset < batch.num_rows:
                    piece = batch.slice(offset, min(batch.num_rows - offset, every - sent % every))
                    tap_policies(stream_tap(self)).watch.table(self.name, pa.Table.from_batches([piece]))
                    write_lines(encoder.encode(piece, stream_version(self), utc_now()))
                    self.state_manager.is_flushed = False
                    if self.replication_key:
                        self._advance_bookmark(piece.column(self.replication_key), None, raw=True)
                    record_counter.increment(piece.num_rows)
                    offset += piece.num_rows
                    sent += piece.num_rows
                    if sent % every == 0:
                        self.write_state_message()
            finalize_state(self, self.get_context_state(None))
        finalize_state(self, self.stream_state)
        self.write_state_message()

    def _raw_batches(self, sql: str) -> Iterator[pa.RecordBatch]:
        """Driver batches, the next read while the current one is written (tap and target
        overlap: the tap no longer waits for the database while the target parses)."""

        def guarded() -> Iterator[pa.RecordBatch]:
            with self.db.guarded():
                yield from self.db.arrow_batches(sql)

        return read_ahead(guarded)

    def write_state_message(self) -> None:
        """A STATE whenever rows were sent since the last one, even with an unchanged value
        (a full-table stream's never changes; singer-sdk's writer drops repeated states): a
        target that commits at STATE must get one covering every row."""
        if not self.state_manager.is_flushed:
            forget_emitted_state(self)
        super().write_state_message()

    def get_batches(
        self, batch_config: BatchConfig, context: Any = None
    ) -> Iterable[tuple[BaseBatchFileEncoding, list[str]]]:
        """Parquet batch files straight from the database (other encodings: singer-sdk's own)."""
        if parquet_batch_config({"batch_config": batch_config.asdict()}) is None:
            yield from super().get_batches(batch_config, context)
            return
        from dativo_singer.batch_emit import ParquetBatchWriter  # the BATCH path alone loads it
        from dativo_singer.sql import log_sync

        writer = ParquetBatchWriter(
            batch_config,
            tap_name=self.tap_name,
            stream_name=self.name,
            policies=tap_policies(stream_tap(self)),
        )
        if self.log_based:
            position = log_sync.snapshot_position(self)
            if position is not None:
                pieces = self._arrow_tables(context, writer.max_rows)
                yield from writer.manifests(log_sync.snapshot_pieces(self, pieces, position))
                log_sync.finish_snapshot(self, position)
            log_sync.read_changes(self, writer)
            return
        yield from writer.manifests(self._arrow_tables(context, writer.max_rows))
        finalize_state(self, self.stream_state)

    def _arrow_tables(self, context: Any, rows_per_file: int) -> Iterator[pa.Table]:
        """Converted driver batches regrouped into files of ``rows_per_file`` rows, each
        announced after the bookmark has moved to its last key."""
        from dativo_singer.batch_emit import file_sized

        sql = self._sql(context)
        schema = stream_arrow_schema(self.schema.get("properties") or {}, self.columns)
        key = None if self.log_based else self.replication_key
        with self.db.guarded():
            label = self.table_label()
            converted = (convert_batch(b, schema, self.columns, label) for b in self.db.arrow_batches(sql))
            for piece in file_sized(converted, rows_per_file):
                if key:
                    self._advance_bookmark(piece.column(key), context)
                yield piece

    def _advance_bookmark(self, keys: pa.ChunkedArray | pa.Array, context: Any, raw: bool = False) -> None:
        """Bookmark to the last key (``raw``: a driver column, converted as the per-record path
        converts the value)."""
        last = keys[-1].as_py()
        if last is None:  # MySQL sorts nulls first, PostgreSQL last: take the largest value
            last = pc.max(keys).as_py()
        convert = record_converters(self.columns).get(self.replication_key or "") if raw else None
        if last is not None and convert is not None:
            last = convert(last)
        if last is not None:
            self.increment_state({self.replication_key: last}, context=context)
