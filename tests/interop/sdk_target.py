"""A minimal singer-sdk target, as singer-sdk peers read messages: every record as singer-sdk
parsed, validated and conformed it, written back with singer-sdk's own JSON encoder to
``<destination>/<stream>.jsonl``, and the SQL type singer-sdk's SQL targets (target-postgres...)
would give each property to ``<stream>.types.json``.

Run as ``python -m tests.interop.sdk_target --config config.json`` (``{"destination": dir}``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.singerlib.json import serialize_json
from singer_sdk.sinks import BatchSink
from singer_sdk.sql.connector import JSONSchemaToSQL


class JsonLinesSink(BatchSink):
    """Appends the records of a batch to the stream's file."""

    def setup(self) -> None:
        """Write the SQL types of the stream's properties."""
        to_sql = JSONSchemaToSQL(max_varchar_length=None)
        types = {name: str(to_sql.to_sql_type(prop)) for name, prop in self.schema["properties"].items()}
        self._folder().joinpath(f"{self.stream_name}.types.json").write_text(json.dumps(types))

    def _folder(self) -> Path:
        return Path(self.config["destination"])

    def process_batch(self, context: dict[str, Any]) -> None:
        """One line per record, as singer-sdk serializes it."""
        with self._folder().joinpath(f"{self.stream_name}.jsonl").open("a", encoding="utf-8") as out:
            for record in context.get("records", []):
                out.write(serialize_json(record) + "\n")


class SdkTarget(Target):
    """target-sdk-jsonl."""

    name = "target-sdk-jsonl"
    config_jsonschema = th.PropertiesList(th.Property("destination", th.StringType, required=True)).to_dict()
    default_sink_class = JsonLinesSink


if __name__ == "__main__":
    SdkTarget.cli()
