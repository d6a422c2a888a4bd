"""Column policies applied by the tap, before a value leaves it (docs/ARCHITECTURE.md).

A tap configured with ``column_policies`` (and ``hash_salt``) hashes, masks or drops the
classified values of every stream where they first become records or Arrow batches:

- SCHEMA messages describe the protected records (hashed and masked values are strings,
  dropped fields are gone);
- RECORD messages written through the tap's message writer (``PolicyWriter``, which every
  message singer-sdk writes goes through) carry protected records;
- Arrow batches are protected before they become BATCH Parquet files (``ParquetBatchWriter``)
  or bulk RECORD lines (``dativo_singer.sql.record_lines``);
- a BATCH message whose files this core did not protect (singer-sdk's own JSONL batches) is
  refused.

So no raw classified value crosses the pipe: a target receives protected values only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.singerlib.encoding.base import GenericSingerWriter
from singer_sdk.singerlib.messages import Message, RecordMessage, SchemaMessage

from dativo_singer.errors import FatalError
from dativo_singer.pii_watch import PiiWatch
from dativo_singer.policy_paths import PolicyTree, check_policies, policy_tree, protect_record, protect_schema
from dativo_singer.sdk_internals import merge_missing_config_jsonschema

if TYPE_CHECKING:
    import pyarrow as pa

POLICY_SETTINGS = th.PropertiesList(
    th.Property(
        "column_policies",
        th.ObjectType(additional_properties=th.StringType),
        description="Per-column action for classified values: allow, hash, mask or drop; a key "
        "names a column, an object's field (profile.email) or a field of an array's objects "
        "(contacts[].email). Applied before any value leaves the tap.",
    ),
    th.Property("hash_salt", th.StringType, secret=True, description="Salt for hashed values"),
    th.Property(
        "pii_watch",
        th.ObjectType(
            th.Property("mode", th.StringType, allowed_values=["warn", "fail"]),
            th.Property("skip", th.ArrayType(th.StringType)),
        ),
        description="Sample each stream's first rows: an unclassified text column (not in skip) whose "
        "values look like personal data is a warning (warn) or stops the tap (fail)",
    ),
).to_dict()


def append_policy_config(config_jsonschema: dict[str, Any]) -> None:
    """Declare ``column_policies``, ``hash_salt`` and ``pii_watch`` in a tap's config schema."""
    merge_missing_config_jsonschema(POLICY_SETTINGS, config_jsonschema)


@dataclass
class TapPolicies:
    """A tap's column policies: the same for every stream, keyed by path."""

    policies: dict[str, str] = field(default_factory=dict)
    salt: str = ""
    tree: PolicyTree = field(default_factory=dict)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)  # stream → raw schema
    watch: PiiWatch = field(default_factory=PiiWatch)  # unclassified columns that look personal

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TapPolicies:
        """From a tap config (no policies: nothing is changed)."""
        policies = {str(k): str(v) for k, v in dict(config.get("column_policies") or {}).items()}
        check_policies(policies)
        tree = policy_tree(policies)
        return cls(policies, str(config.get("hash_salt") or ""), tree, watch=PiiWatch.from_config(config))

    @property
    def active(self) -> bool:
        """True when some policy changes values."""
        return bool(self.tree)

    def table(self, data: pa.Table, stream: str = "") -> pa.Table:
        """An Arrow batch protected (before it becomes a file or lines)."""
        self.watch.table(stream, data)
        if not self.active:
            return data
        from dativo_singer.policy import apply_policies  # Arrow: only taps with a columnar path

        return apply_policies(data, self.policies, self.salt)

    def message(self, message: Any) -> Any:
        """A Singer message as it may leave the tap."""
        if isinstance(message, RecordMessage):
            self.watch.record(message.stream, message.record)
        else:
            self.watch.check_all()
        if not self.active:
            return message
        if isinstance(message, SchemaMessage):
            self.schemas[message.stream] = message.schema
            return SchemaMessage(
                message.stream,
                protect_schema(message.schema, self.tree),
                message.key_properties,
                message.bookmark_properties,
            )
        if isinstance(message, RecordMessage):
            message.record = protect_record(
                message.record, self.tree, self.salt, self.schemas.get(message.stream)
            )
            return message
        if getattr(message, "type", None) == "BATCH" and not _protected_files(message):
            raise FatalError(
                f"stream {message.stream!r}: column policies are applied to Parquet BATCH files "
                "only; set batch_config.encoding.format to parquet"
            )
        return message


def _protected_files(message: Any) -> bool:
    return bool(getattr(message.encoding, "format", None) == "parquet")


HIDDEN = "<classified value>"


def hide_value(message: str, text: str) -> str:
    """An error message about a classified value, the value (or its quoted start) left out."""
    for shown in (repr(text), repr(text[:40])):  # values are quoted with !r in messages
        message = message.replace(shown, HIDDEN)
    return message


def tap_policies(tap: Tap) -> TapPolicies:
    """The tap's policies, read from its config once."""
    policies = getattr(tap, "_dativo_policies", None)
    if policies is None:
        policies = TapPolicies.from_config(dict(tap.config))
        tap._dativo_policies = policies  # type: ignore[attr-defined]
    return policies


class PolicyWriter(GenericSingerWriter[Any, Message]):
    """A tap's message writer that lets a message out only with the policies applied."""

    def __init__(self, inner: GenericSingerWriter[Any, Message], tap: Tap) -> None:
        self.inner = inner
        self.tap = tap

    def serialize_message(self, message: Message) -> Any:
        """The inner writer's line of the protected message."""
        return self.inner.serialize_message(tap_policies(self.tap).message(message))

    def write_message(self, message: Message) -> None:
        """Write the protected message through the inner writer."""
        self.inner.write_message(tap_policies(self.tap).message(message))


class PolicyTap(Tap):
    """A singer-sdk tap whose messages leave it with the column policies applied (every
    message singer-sdk writes goes through ``message_writer``)."""

    def __init__(
        self, *args: Any, message_writer: GenericSingerWriter[Any, Message] | None = None, **kwargs: Any
    ) -> None:
        # Given at construction, so singer-sdk's STATE writer goes through it too (in order).
        inner = message_writer or self.message_writer_class()
        super().__init__(*args, message_writer=PolicyWriter(inner, self), **kwargs)

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        """singer-sdk's built-in settings, and ``column_policies`` / ``hash_salt``."""
        append_policy_config(config_jsonschema)
        super().append_builtin_config(config_jsonschema)
