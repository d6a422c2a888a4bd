"""TapMarkdownKV: the singer-sdk Tap class and the `tap-markdown-kv` console script."""

from __future__ import annotations

from typing import Any

from singer_sdk import Stream

from dativo_singer.cli import run_tap_cli
from dativo_singer.errors import FatalError
from dativo_singer.file_tap import FileTap
from dativo_singer.markdown_kv import parse_bytes
from tap_markdown_kv.settings import CONFIG_SCHEMA, config_problems
from tap_markdown_kv.storage import (
    FIXED_KEYS,
    FIXED_PROPERTIES,
    MARKDOWN_COLUMN,
    check_storage_schema,
    fixed_schema,
)
from tap_markdown_kv.stores import files_of
from tap_markdown_kv.streams import MarkdownKVStream

Entry = tuple[int, dict[str, Any]]  # a `files` entry and its position


class TapMarkdownKV(FileTap):
    """Reads Markdown-KV documents (local or S3); one stream per object, incremental per file."""

    name = "tap-markdown-kv"
    package_name = "dativo-tap-markdown-kv"  # its distribution: --version
    config_jsonschema = CONFIG_SCHEMA
    config_problems = staticmethod(config_problems)

    def _entries_by_object(self) -> dict[str, list[Entry]]:
        grouped: dict[str, list[Entry]] = {}
        for index, entry in enumerate(self.config["files"]):
            grouped.setdefault(entry["object"], []).append((index, dict(entry)))
        return grouped

    def _infer_schema(self, name: str, entries: list[Entry], storage: str) -> dict[str, Any]:
        """document/hybrid without a schema: every key of the first file, a nullable string."""
        for store, file in files_of(name, entries, dict(self.config)):
            document = parse_bytes(store.read(file), file.name)
            keys = dict.fromkeys(k for record in document.records for k in record.fields)
            properties: dict[str, Any] = {k: {"type": ["string", "null"]} for k in keys}
            if storage == "hybrid":
                properties[MARKDOWN_COLUMN] = {"type": "string"}
            return {"type": "object", "properties": properties}
        raise FatalError(f"files[{entries[0][0]}].path: no file to read keys from")  # pragma: no cover

    def discover_streams(self) -> list[Stream]:
        """One MarkdownKVStream per object named in `files`."""
        schemas: dict[str, Any] = self.config.get("schemas") or {}
        keys: dict[str, list[str]] = self.config.get("key_properties") or {}
        streams: list[Stream] = []
        for name, entries in self._entries_by_object().items():
            storage = entries[0][1].get("storage") or "document"
            given = schemas.get(name)
            check_storage_schema(storage, name, given)
            if storage in FIXED_PROPERTIES:
                schema = given or fixed_schema(storage)
                key = list(keys.get(name) or FIXED_KEYS[storage])
            else:
                schema = given or self._infer_schema(name, entries, storage)
                key = list(keys.get(name) or [])
            unknown = [k for k in key if k not in schema.get("properties", {})]
            if unknown:
                raise FatalError(f"key_properties.{name}: {unknown[0]!r} is not a column of {name!r}")
            streams.append(MarkdownKVStream(self, name, schema, entries, storage, key))
        return streams


def main() -> None:
    """Console script `tap-markdown-kv`."""
    run_tap_cli("tap-markdown-kv", TapMarkdownKV)
