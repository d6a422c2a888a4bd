"""IcebergSink: each drained batch becomes one Iceberg commit (one snapshot)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table
from singer_sdk import Target
from singer_sdk.sinks import BatchSink

from target_iceberg.arrow_batch import records_to_table
from target_iceberg.types import arrow_schema

STATE_SUMMARY_KEY = "dativo.singer-state"
COMMIT_LOG_PREFIX = "dativo.commit"


def table_name_for(stream_name: str, config: Mapping[str, Any]) -> str:
    """Table name of a stream: ``table_names`` mapping, else the stream name in lower case with
    every character other than letters, digits and ``_`` replaced by ``_`` (safe in paths and SQL)."""
    mapping: dict[str, str] = config.get("table_names") or {}
    return mapping.get(stream_name) or re.sub(r"[^a-z0-9_]", "_", stream_name.lower())


class IcebergSink(BatchSink):
    """Appends each batch to ``<namespace>.<table>``; the table is created on first write."""

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict,
        key_properties: list[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self._target = target
        self._table: Table | None = None
        self._committed_rows = 0

    def get_validator(self) -> None:
        """No per-record JSON Schema validation: values are checked per batch in Arrow."""
        return None

    @property
    def catalog(self) -> Catalog:
        """The target's catalog, opened once per run."""
        return self._target.catalog  # type: ignore[attr-defined]

    @property
    def identifier(self) -> tuple[str, str]:
        """(namespace, table) of this stream."""
        return (
            self.config.get("namespace") or "default",
            table_name_for(self.stream_name, self.config),
        )

    def _stream_arrow_schema(self) -> pa.Schema:
        return arrow_schema(self.schema, list(self.key_properties))

    def _ensure_table(self) -> Table:
        if self._table is None:
            namespace, _ = self.identifier
            self.catalog.create_namespace_if_not_exists(namespace)
            self._table = self.catalog.create_table_if_not_exists(
                self.identifier,
                schema=self._stream_arrow_schema(),
                properties=dict(self.config.get("table_properties") or {}),
            )
            self._evolve_schema(self._table)
        return self._table

    def _evolve_schema(self, table: Table) -> None:
        """Add columns the stream has and the table lacks (and widen types safely)."""
        incoming = self._stream_arrow_schema()
        existing = {field.name for field in table.schema().fields}
        if all(name in existing for name in incoming.names):
            return
        self.logger.info("Evolving schema of %s", ".".join(self.identifier))
        relaxed = pa.schema([field.with_nullable(True) for field in incoming])
        with table.update_schema() as update:
            update.union_by_name(relaxed)

    def _latest_state(self) -> dict[str, Any] | None:
        # The SDK keeps the last STATE it received; every record before it is in this batch
        # or an earlier one, so it is the bookmark this commit makes durable.
        return getattr(self._target, "_latest_state", None)

    def process_batch(self, context: dict) -> None:
        """Convert the batch to Arrow and commit it as one Iceberg snapshot."""
        records: list[dict[str, Any]] = context.get("records") or []
        if not records:
            return
        started = time.monotonic()
        table = self._ensure_table()
        data = records_to_table(records, table.schema().as_arrow())
        properties = {"dativo.stream": self.stream_name, "dativo.rows": str(data.num_rows)}
        state = self._latest_state()
        if state is not None:
            properties[STATE_SUMMARY_KEY] = json.dumps(state, sort_keys=True)
        table.append(data, snapshot_properties=properties)
        self._committed_rows += data.num_rows
        snapshot = table.current_snapshot()
        self.logger.info(
            "%s %s",
            COMMIT_LOG_PREFIX,
            json.dumps(
                {
                    "stream": self.stream_name,
                    "table": ".".join(self.identifier),
                    "rows": data.num_rows,
                    "total_rows": self._committed_rows,
                    "snapshot_id": snapshot.snapshot_id if snapshot else None,
                    "metadata_location": table.metadata_location,
                    "seconds": round(time.monotonic() - started, 3),
                }
            ),
        )
