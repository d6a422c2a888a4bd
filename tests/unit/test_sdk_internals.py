"""dativo_singer.sdk_internals on real singer-sdk objects (a small tap, REST stream, SQL connector,
target and sink built here): every private singer-sdk name Dativo relies on exists with the
signature it calls, and does what the product needs. A singer-sdk upgrade runs this file first."""

from __future__ import annotations

import datetime as dt
import inspect
import io
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Generator, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest
import requests
import sqlalchemy as sa
from singer_sdk import Stream, Tap, Target
from singer_sdk import typing as th
from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.plugin_base import PluginBase
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.sinks import BatchSink, Sink
from singer_sdk.sql import SQLConnector
from singer_sdk.streams import RESTStream

from dativo_singer import sdk_internals as sdk
from dativo_singer.errors import FatalError
from dativo_singer.reader import FastSingerReader

# (class, private name, parameters after self): what sdk_internals overrides or calls.
PRIVATE_NAMES = [
    (PluginBase, "_handle_termination", ["signum", "frame"]),
    (PluginBase, "_validate_config", ["raise_errors"]),
    (Target, "_assert_line_requires", ["message_dict", "requires"]),
    (Tap, "_set_compatible_replication_methods", []),
    (Stream, "_increment_stream_state", ["latest_record", "context"]),
    (Stream, "_sync_records", ["context", "write_messages"]),
    (Stream, "_write_state_message", []),
    (Stream, "_write_record_message", ["record"]),
    (Stream, "_finalize_state", ["state"]),
    (Stream, "_write_starting_replication_value", ["context"]),
    (RESTStream, "_request", ["prepared_request", "context"]),
    (Target, "_process_schema_message", ["message_dict"]),
    (Target, "_process_record_message", ["message_dict"]),
    (Target, "_process_state_message", ["message_dict"]),
    (Target, "_process_activate_version_message", ["message_dict"]),
    (Target, "_process_batch_message", ["message_dict"]),
    (Target, "_assert_sink_exists", ["stream_name"]),
    (Target, "_write_state_message", ["state"]),
    (FastSingerReader, "_process_unknown_message", ["message_dict"]),
    (Sink, "_parse_timestamps_in_record", ["record", "schema", "treatment"]),
    (Sink, "_add_sdc_metadata_to_schema", []),
    (Sink, "_remove_sdc_metadata_from_schema", []),
    (SQLConnector, "_connect", []),
]
PUBLIC_HOOKS = {
    "check_config", "schema_problems", "prepare_sync", "increment_state", "sync_records",
    "write_state_message", "send_request", "on_schema_message", "on_record_message",
    "on_state_message", "on_activate_version_message", "on_batch_message", "termination_note",
}  # fmt: skip


@pytest.mark.parametrize(("cls", "name", "params"), PRIVATE_NAMES, ids=lambda v: getattr(v, "__name__", v))
def test_private_method_exists_with_the_parameters_called(cls: type, name: str, params: list[str]) -> None:
    method = getattr(cls, name)
    assert list(inspect.signature(method).parameters)[1:] == params


def test_public_hook_names_are_not_singer_sdk_names() -> None:
    """A singer-sdk release adding one of these names would be silently overridden."""
    for cls in (Tap, Stream, RESTStream, Target, BatchSink, SQLConnector):
        assert not PUBLIC_HOOKS & set(dir(cls)), cls.__name__


def test_private_module_names() -> None:
    schema = {"properties": {"a": {"type": "string"}}}
    sdk.merge_missing_config_jsonschema({"properties": {"a": {}, "b": {"type": "integer"}}}, schema)
    assert schema == {"properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}
    config = sdk.BatchConfig.from_dict(
        {"encoding": {"format": "parquet", "compression": "zstd"}, "storage": {"root": "file:///tmp/b"}}
    )
    assert (config.encoding.format, config.encoding.compression) == ("parquet", "zstd")
    assert sdk.BaseBatchFileEncoding.from_dict({"format": "jsonl", "compression": "gzip"}).compression == "gzip"
    assert sdk.JSONLinesEncoding().format == "jsonl"
    assert sdk.StorageTarget.split_url("file:///tmp/b/x.parquet") == ("file:///tmp/b", "x.parquet")
    message = sdk.SDKBatchMessage(stream="s", encoding=sdk.JSONLinesEncoding(), manifest=["file:///x"])
    assert message.to_dict()["type"] == "BATCH"
    # bookmarks compared as these strings (the database taps' look-back window)
    early, late = (sdk.to_json_compatible(dt.datetime(2024, 1, 2, 3, 4, s)) for s in (5, 50))
    assert early == "2024-01-02T03:04:05.000000+00:00" and early < late
    assert sdk.to_json_compatible(7) == 7
    assert sdk.utc_now().tzinfo is not None


# -- a tap ---------------------------------------------------------------------------------------

ROWS = [{"id": 1, "updated": "2024-01-01T00:00:00+00:00"}, {"id": 2, "updated": "2024-01-02T00:00:00+00:00"}]


class ItemsStream(sdk.StreamHooks, Stream):
    name = "items"
    primary_keys = ("id",)
    replication_key = "updated"
    schema = th.PropertiesList(th.Property("id", th.IntegerType), th.Property("updated", th.DateTimeType)).to_dict()
    calls: list[str]

    def get_records(self, context: Any) -> Iterable[dict[str, Any]]:
        yield from (dict(r) for r in ROWS)

    def increment_state(self, latest_record: dict[str, Any], *, context: Any = None) -> None:
        self.calls.append(f"increment {latest_record['id']}")
        super().increment_state(latest_record, context=context)

    def sync_records(self, context: Any = None, *, write_messages: bool = True) -> Generator[dict, Any, Any]:
        self.calls.append(f"sync_records write={write_messages}")
        return super().sync_records(context, write_messages=write_messages)

    def write_state_message(self) -> None:
        self.calls.append("state")
        super().write_state_message()


class ItemsTap(sdk.StopAtOnce, sdk.ConfigCheck, sdk.SyncStartHook, Tap):
    name = "tap-items"
    config_jsonschema = th.PropertiesList(th.Property("token", th.StringType, required=True)).to_dict()
    termination_note = "stopping the items tap"

    def discover_streams(self) -> list[Stream]:
        stream = ItemsStream(self)
        stream.calls = self.calls
        return [stream]

    def check_config(self) -> None:
        super().check_config()
        if self.config["token"] == "bad":
            raise FatalError("token: is bad")

    def prepare_sync(self) -> None:
        self.calls.append("prepare_sync")

    @property
    def calls(self) -> list[str]:
        return self.__dict__.setdefault("_calls", [])


def _messages(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_stream_hooks_run_in_a_sync(capsys: pytest.CaptureFixture[str]) -> None:
    tap = ItemsTap(config={"token": "t"})
    tap.sync_all()
    messages = _messages(capsys.readouterr().out)
    assert [m["type"] for m in messages if m["type"] != "SCHEMA"][:2] == ["RECORD", "RECORD"]
    assert tap.calls[:4] == ["prepare_sync", "sync_records write=True", "increment 1", "increment 2"]
    assert "state" in tap.calls
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    assert states[-1]["bookmarks"]["items"]["replication_key_value"] == ROWS[-1]["updated"]


def test_stream_functions(capsys: pytest.CaptureFixture[str]) -> None:
    tap = ItemsTap(config={"token": "t"})
    stream = cast(ItemsStream, tap.streams["items"])
    assert sdk.stream_tap(stream) is tap
    assert sdk.catalog_entry(stream).tap_stream_id == "items"
    assert sdk.stream_version(stream) is None  # no ACTIVATE_VERSION sent
    assert [r["id"] for r in sdk.sync_records(stream)] == [1, 2]
    assert "RECORD" not in capsys.readouterr().out  # records only, no messages

    sdk.write_record_message(stream, {"id": 7, "updated": ROWS[0]["updated"]})
    assert [m["record"]["id"] for m in _messages(capsys.readouterr().out)] == [7]

    written = []
    for forget in (False, False, True):  # the second STATE equals the first: singer-sdk drops it
        stream.state_manager.is_flushed = False  # rows were sent since the last STATE
        if forget:
            sdk.forget_emitted_state(stream)
        stream.write_state_message()
        written.append(len(_messages(capsys.readouterr().out)))
    assert written == [1, 0, 1]


def test_bookmark_functions() -> None:
    tap = ItemsTap(config={"token": "t"})
    stream = cast(ItemsStream, tap.streams["items"])
    sdk.write_starting_replication_value(stream, None)
    assert "starting_replication_value" in stream.stream_state
    state = {"progress_markers": {"replication_key": "updated", "replication_key_value": "2024-05-01"}}
    sdk.finalize_state(stream, state)
    assert state == {"replication_key": "updated", "replication_key_value": "2024-05-01"}


def test_config_check_raises_one_line_in_every_mode() -> None:
    with pytest.raises(FatalError, match="token"):
        ItemsTap(config={}, validate_config=False)  # --discover validates nothing in singer-sdk
    with pytest.raises(FatalError, match="token: is bad"):
        ItemsTap(config={"token": "bad"})


def test_termination_stops_at_once_with_the_note() -> None:
    program = textwrap.dedent(
        """
        import os, signal
        from tests.unit.test_sdk_internals import ItemsTap
        ItemsTap(config={"token": "t"})
        os.kill(os.getpid(), signal.SIGTERM)
        print("not stopped")
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 128 + 15, result.stderr
    assert "Received SIGTERM: stopping the items tap" in result.stderr
    assert "not stopped" not in result.stdout


# -- a REST stream -------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps([{"id": 1}, {"id": 2}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class ThingsStream(sdk.RequestHook, RESTStream[Any]):
    name = "things"
    path = "/things"
    schema = th.PropertiesList(th.Property("id", th.IntegerType)).to_dict()
    sent: list[str] = []

    @property
    def url_base(self) -> str:
        return str(self.config["url"])

    def send_request(self, prepared_request: requests.PreparedRequest, context: Any) -> requests.Response:
        self.sent.append(str(prepared_request.url))
        return super().send_request(prepared_request, context)


class ThingsTap(Tap):
    name = "tap-things"
    config_jsonschema = th.PropertiesList(th.Property("url", th.StringType)).to_dict()

    def discover_streams(self) -> list[Stream]:
        return [ThingsStream(self)]


def test_every_request_goes_through_send_request() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        stream = ThingsTap(config={"url": url}).streams["things"]
        assert [r["id"] for r in sdk.sync_records(stream)] == [1, 2]
        assert stream.sent == [f"{url}/things"]  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def test_sql_connector_functions() -> None:
    connector = SQLConnector(config={"sqlalchemy_url": "sqlite://"})
    assert isinstance(sdk.connector_engine(connector), sa.Engine)
    assert sdk.connector_dialect(connector).name == "sqlite"
    with sdk.connector_connection(connector) as connection:
        assert connection.exec_driver_sql("SELECT 41 + 1").scalar() == 42


# -- a target ------------------------------------------------------------------------------------


class KeptSink(BatchSink):
    def process_record(self, record: dict, context: dict) -> None:
        self.kept = [*getattr(self, "kept", []), record]

    def process_batch(self, context: dict) -> None:
        pass


class AsSentSink(sdk.TimestampsAsSent, KeptSink):
    pass


class HookTarget(sdk.MessageHooks, Target):
    name = "target-hooks"
    config_jsonschema = th.PropertiesList().to_dict()
    default_sink_class: type[Sink] = AsSentSink
    seen: list[str]

    def on_schema_message(self, message_dict: dict) -> None:
        self.seen.append("SCHEMA")
        super().on_schema_message(message_dict)

    def on_record_message(self, message_dict: dict) -> None:
        self.seen.append("RECORD")
        super().on_record_message(message_dict)

    def on_state_message(self, message_dict: dict) -> None:
        self.seen.append("STATE")
        super().on_state_message(message_dict)

    def on_activate_version_message(self, message_dict: dict) -> None:
        self.seen.append("ACTIVATE_VERSION")

    def on_batch_message(self, message_dict: dict) -> None:
        self.seen.append("BATCH")


SCHEMA = {"type": "SCHEMA", "stream": "items", "key_properties": ["id"], "schema": ItemsStream.schema}
RECORD = {"type": "RECORD", "stream": "items", "record": ROWS[0]}


def _target(sink_class: type[Sink] = AsSentSink) -> HookTarget:
    target = HookTarget(config={})
    target.default_sink_class = sink_class
    target.seen = []
    return target


def test_message_hooks_and_target_functions(capsys: pytest.CaptureFixture[str]) -> None:
    target = _target()
    lines = [
        SCHEMA,
        RECORD,
        {"type": "STATE", "value": {"v": 1}},
        {"type": "ACTIVATE_VERSION", "stream": "items", "version": 1},
        {"type": "BATCH", "stream": "items", "encoding": {"format": "jsonl"}, "manifest": []},
    ]
    target.process_lines(io.StringIO("".join(json.dumps(m) + "\n" for m in lines)))
    assert target.seen == ["SCHEMA", "RECORD", "STATE", "ACTIVATE_VERSION", "BATCH"]
    assert list(sdk.active_sinks(target)) == ["items"]
    with pytest.raises(RecordsWithoutSchemaException):
        sdk.require_sink(target, "other")
    with pytest.raises(InvalidInputLine):
        sdk.require_fields(target, {"type": "STATE"}, {"value"})
    capsys.readouterr()
    sdk.write_target_state(target, {"bookmarks": {"items": {"v": 2}}})
    assert _messages(capsys.readouterr().out) == [{"bookmarks": {"items": {"v": 2}}}]
    with pytest.raises(ValueError, match="Unknown message type 'NOISE'"):
        sdk.process_unknown_message(target.message_reader, {"type": "NOISE"})


def test_timestamps_stay_as_sent_only_with_the_mixin() -> None:
    for sink_class, expected in ((AsSentSink, str), (KeptSink, dt.datetime)):
        target = _target(sink_class)
        target.process_lines(io.StringIO(json.dumps(SCHEMA) + "\n" + json.dumps(RECORD) + "\n"))
        sink = sdk.active_sinks(target)["items"]
        assert type(sink.kept[0]["updated"]) is expected, sink_class.__name__  # type: ignore[attr-defined]


@pytest.mark.parametrize("metadata", [True, False])
def test_set_sink_schema(metadata: bool) -> None:
    target = HookTarget(config={"add_record_metadata": metadata})
    sink = KeptSink(target, "items", ItemsStream.schema, ["id"])
    sdk.set_sink_schema(sink, {"properties": {"code": {"type": "string"}}}, ["code"])
    assert ("_sdc_extracted_at" in sink.schema["properties"]) is metadata
    assert "code" in sink.schema["properties"]
    assert list(sink.key_properties) == ["code"]
