"""Every use of singer-sdk internals (private modules, underscored hooks and attributes), in one
place, so a singer-sdk upgrade touches this file only. Each is pinned by a test on real singer-sdk
objects (tests/unit/test_sdk_internals.py); singer-sdk's version is pinned in pyproject.toml.

The rest of the code calls the functions below and overrides the public hooks of the mixins
(``check_config``, ``increment_state``, ``on_record_message``...), never an underscored
singer-sdk name. A mixin comes first among a class's bases.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

from singer_sdk.configuration._dict_config import merge_missing_config_jsonschema
from singer_sdk.helpers._batch import (
    BaseBatchFileEncoding,
    BatchConfig,
    JSONLinesEncoding,
    SDKBatchMessage,
    StorageTarget,
)
from singer_sdk.helpers._state import to_json_compatible
from singer_sdk.helpers._util import utc_now

from dativo_singer.errors import FatalError
from dativo_singer.termination import stop_now

if TYPE_CHECKING:
    import requests
    import sqlalchemy as sa
    from singer_sdk import Stream, Tap, Target
    from singer_sdk.plugin_base import PluginBase
    from singer_sdk.singerlib.catalog import CatalogEntry
    from singer_sdk.singerlib.encoding.base import GenericSingerReader
    from singer_sdk.sinks import Sink
    from singer_sdk.sql import SQLConnector
    from singer_sdk.streams import RESTStream

    _Plugin = PluginBase
    _Tap = Tap
    _Stream = Stream
    _RESTStream = RESTStream
    _Target = Target
    _Sink = Sink
else:  # the mixins are plain classes at run time; their super() is the singer-sdk class after them
    _Plugin = _Tap = _Stream = _RESTStream = _Target = _Sink = object

# singer-sdk private-module names, re-exported (the functions and mixins below are public too)
__all__ = [
    "BaseBatchFileEncoding",
    "BatchConfig",
    "JSONLinesEncoding",
    "SDKBatchMessage",
    "StorageTarget",
    "merge_missing_config_jsonschema",
    "to_json_compatible",
    "utc_now",
]


# -- taps and targets ---------------------------------------------------------------------------


class StopAtOnce(_Plugin):
    """SIGTERM/SIGINT: exit 128+signal at once, logging ``termination_note`` (singer-sdk would
    drain a target's sinks, or let a tap exit 0 half-way, so a stopped run would look complete)."""

    termination_note = "stopping; the last STATE written covers the records before it"

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        stop_now(self.logger, signum, self.termination_note)


class ConfigCheck(_Plugin):
    """Config problems as one line and exit 2 in every mode (singer-sdk logs them and exits 1,
    and does not check at all for ``--discover``). Override ``check_config``."""

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        self.check_config()
        return []

    def schema_problems(self) -> list[str]:
        """singer-sdk's JSON Schema check of the config: one message per problem."""
        return list(super()._validate_config(raise_errors=False))

    def check_config(self) -> None:
        """Raise ``FatalError`` naming every problem (default: the schema's)."""
        problems = self.schema_problems()
        if problems:
            raise FatalError("; ".join(dict.fromkeys(problems)))


class SyncStartHook(_Tap):
    """``prepare_sync`` runs in ``sync_all`` (final in singer-sdk) before anything is written."""

    def _set_compatible_replication_methods(self) -> None:
        super()._set_compatible_replication_methods()
        self.prepare_sync()

    def prepare_sync(self) -> None:
        """Checks to make before the first message (default: none)."""


# -- streams ------------------------------------------------------------------------------------


class StreamHooks(_Stream):
    """singer-sdk's per-stream steps under public names: the bookmark update per record, the
    record loop, the STATE write."""

    def _increment_stream_state(self, latest_record: dict[str, Any], *, context: Any = None) -> None:
        self.increment_state(latest_record, context=context)

    def increment_state(self, latest_record: dict[str, Any], *, context: Any = None) -> None:
        """Move the bookmark past ``latest_record`` (singer-sdk's step)."""
        super()._increment_stream_state(latest_record, context=context)

    def _sync_records(self, context: Any = None, *, write_messages: bool = True) -> Generator[dict, Any, Any]:
        return self.sync_records(context, write_messages=write_messages)

    def sync_records(self, context: Any = None, *, write_messages: bool = True) -> Generator[dict, Any, Any]:
        """The records of the stream (and, with ``write_messages``, their RECORD and STATE lines)."""
        return super()._sync_records(context, write_messages=write_messages)

    def _write_state_message(self) -> None:
        self.write_state_message()

    def write_state_message(self) -> None:
        """Write the tap's STATE (singer-sdk drops one equal to the last written)."""
        super()._write_state_message()


class RequestHook(_RESTStream):
    """``send_request``: every HTTP request singer-sdk's paginator (and ``request_decorator``) makes."""

    def _request(self, prepared_request: requests.PreparedRequest, context: Any) -> requests.Response:
        return self.send_request(prepared_request, context)

    def send_request(self, prepared_request: requests.PreparedRequest, context: Any) -> requests.Response:
        """Send one prepared request and check its answer (singer-sdk's step)."""
        return super()._request(prepared_request, context)


def stream_tap(stream: Stream) -> Tap:
    """The tap a stream belongs to."""
    return stream._tap


def catalog_entry(stream: Stream) -> CatalogEntry:
    """The stream's entry of the catalog the tap was given (or discovered)."""
    return stream._singer_catalog_entry


def stream_version(stream: Stream) -> int | None:
    """The table version RECORD messages carry (set when ACTIVATE_VERSION is sent)."""
    return stream._stream_version


def finalize_state(stream: Stream, state: dict[str, Any]) -> None:
    """Turn a progress marker in ``state`` into the bookmark (end of a stream or partition)."""
    stream._finalize_state(state)


def write_starting_replication_value(stream: Stream, context: Any) -> None:
    """Record the starting bookmark (config ``start_date`` or state) in the stream's state."""
    stream._write_starting_replication_value(context)


def forget_emitted_state(stream: Stream) -> None:
    """Make the next STATE be written even if equal to the last one."""
    stream._tap.state_writer._last_emitted_state = None


def write_record_message(stream: Stream, record: dict[str, Any]) -> None:
    """One record through the stream maps to RECORD lines (singer-sdk's per-record step)."""
    stream._write_record_message(record)


def write_batch_message(stream: Stream, encoding: BaseBatchFileEncoding, manifest: list[str]) -> None:
    """One BATCH message naming ``manifest`` (singer-sdk's writer, as ``get_batches`` gets)."""
    stream._write_batch_message(encoding=encoding, manifest=manifest)


def sync_records(stream: Stream, context: Any = None) -> Iterator[dict[str, Any]]:
    """The stream's records, as singer-sdk would write them, without writing messages."""
    return stream._sync_records(context, write_messages=False)


# -- SQL connectors -----------------------------------------------------------------------------


def connector_engine(connector: SQLConnector) -> sa.Engine:
    """The connector's cached SQLAlchemy engine."""
    return connector._engine


def connector_dialect(connector: SQLConnector) -> sa.Dialect:
    """The SQLAlchemy dialect of the connector's engine."""
    return connector._dialect


def connector_connection(connector: SQLConnector) -> Any:
    """A context manager: a connection of the connector's engine, closed on exit."""
    return connector._connect()


# -- targets and sinks --------------------------------------------------------------------------


class MessageHooks(_Target):
    """singer-sdk's handling of each message type under public names (``on_<type>_message``)."""

    def _process_schema_message(self, message_dict: dict) -> None:
        self.on_schema_message(message_dict)

    def on_schema_message(self, message_dict: dict) -> None:
        """SCHEMA: singer-sdk creates or updates the stream's sink."""
        super()._process_schema_message(message_dict)

    def _process_record_message(self, message_dict: dict) -> None:
        self.on_record_message(message_dict)

    def on_record_message(self, message_dict: dict) -> None:
        """RECORD: singer-sdk maps the record, adds metadata and hands it to the sink."""
        super()._process_record_message(message_dict)

    def _process_state_message(self, message_dict: dict) -> None:
        self.on_state_message(message_dict)

    def on_state_message(self, message_dict: dict) -> None:
        """STATE: singer-sdk drains the sinks when due and writes the state."""
        super()._process_state_message(message_dict)

    def _process_activate_version_message(self, message_dict: dict) -> None:
        self.on_activate_version_message(message_dict)

    def on_activate_version_message(self, message_dict: dict) -> None:
        """ACTIVATE_VERSION: singer-sdk hands the version to the stream's sinks."""
        super()._process_activate_version_message(message_dict)

    def _process_batch_message(self, message_dict: dict) -> None:
        self.on_batch_message(message_dict)

    def on_batch_message(self, message_dict: dict) -> None:
        """BATCH: singer-sdk hands the encoding and manifest to the sink's ``process_batch_files``."""
        super()._process_batch_message(message_dict)


def active_sinks(target: Target) -> dict[str, Sink]:
    """The target's sinks by stream name."""
    return target._sinks_active


def require_sink(target: Target, stream_name: str) -> None:
    """Raise singer-sdk's ``RecordsWithoutSchemaException`` for a stream that had no SCHEMA."""
    target._assert_sink_exists(stream_name)


def require_fields(target: Target, message_dict: dict, fields: set[str]) -> None:
    """Raise singer-sdk's ``InvalidInputLine`` for a message that lacks one of ``fields``."""
    target._assert_line_requires(message_dict, requires=fields)


def write_target_state(target: Target, state: dict[str, Any]) -> None:
    """Write a state value to the target's stdout (Singer targets print the state, not a message)."""
    target._write_state_message(state)


def process_unknown_message(reader: GenericSingerReader[Any], message: dict) -> None:
    """What singer-sdk does with a message of an unknown type (raise ``ValueError``)."""
    reader._process_unknown_message(message)


class TimestampsAsSent(_Sink):
    """A sink whose records keep their date-time strings as sent (singer-sdk would parse them
    per record, and stop the run or null the value on a bad one)."""

    def _parse_timestamps_in_record(self, record: dict, schema: dict, treatment: Any) -> None:
        return None


def set_sink_schema(sink: Sink, schema: dict, key_properties: list[str]) -> None:
    """Give a sink a new schema and keys in place, with or without the ``_sdc_`` metadata
    columns as the target's ``add_record_metadata`` says."""
    sink.schema = schema
    if sink.include_sdc_metadata_properties:
        sink._add_sdc_metadata_to_schema()
    else:
        sink._remove_sdc_metadata_from_schema()
    sink._key_properties = key_properties
