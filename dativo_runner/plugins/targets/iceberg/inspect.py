"""What a job's Iceberg table holds (`dativo inspect`, `dativo show`): schema, partition spec,
snapshots with the bookmark each carries, row count and the first rows."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyiceberg.table import Table


def table_rows(table: Table, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """The table's row count (from the data files' record counts) and its first ``limit`` rows."""
    if table.current_snapshot() is None:
        return 0, []
    total = sum(int(task.file.record_count) for task in table.scan().plan_files())
    rows = table.scan(limit=limit).to_arrow().to_pylist() if limit > 0 else []
    return total, rows


def _when(millis: int) -> str:
    return dt.datetime.fromtimestamp(millis / 1000, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _bookmark(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def snapshots(table: Table) -> list[dict[str, Any]]:
    """Every snapshot, oldest first, with what the target wrote in its summary."""
    from target_iceberg.bookmark import STATE_SUMMARY_KEY

    heads = {ref.snapshot_id: name for name, ref in table.metadata.refs.items()}
    found = []
    for snapshot in sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms):
        summary = snapshot.summary
        props = dict(summary.additional_properties) if summary is not None else {}
        found.append(
            {
                "snapshot_id": snapshot.snapshot_id,
                "parent_id": snapshot.parent_snapshot_id,
                "committed_at": _when(snapshot.timestamp_ms),
                "operation": summary.operation.value if summary is not None else None,
                "added_rows": int(props.get("added-records", 0)),
                "total_rows": int(props["total-records"]) if "total-records" in props else None,
                "stream": props.get("dativo.stream"),
                "dativo_operation": props.get("dativo.operation"),
                "head_of": heads.get(snapshot.snapshot_id),
                "bookmark": _bookmark(props.get(STATE_SUMMARY_KEY)),
                **_partition_bookmarks(props, STATE_SUMMARY_KEY + "."),
            }
        )
    return found


def _partition_bookmarks(props: dict[str, str], prefix: str) -> dict[str, Any]:
    """``{"partition_bookmarks": {KEY: state}}`` for the partitions' bookmarks of a snapshot
    (a partitioned job's commit carries its own; maintenance carries every one), else nothing."""
    found = {k.removeprefix(prefix): _bookmark(v) for k, v in sorted(props.items()) if k.startswith(prefix)}
    return {"partition_bookmarks": found} if found else {}


def partition_spec(table: Table) -> list[dict[str, Any]]:
    """The current partition fields: source column, transform, partition column name."""
    schema = table.schema()
    return [
        {
            "source": schema.find_column_name(field.source_id),
            "transform": str(field.transform),
            "name": field.name,
        }
        for field in table.spec().fields
    ]


def schema_columns(table: Table) -> list[dict[str, Any]]:
    """The current schema's top-level columns."""
    return [
        {"id": f.field_id, "name": f.name, "type": str(f.field_type), "required": f.required}
        for f in table.schema().fields
    ]


def inspect_table(table: Table, identifier: str, limit: int) -> dict[str, Any]:
    """The whole report of an existing table."""
    total, rows = table_rows(table, limit)
    current = table.current_snapshot()
    return {
        "exists": True,
        "location": identifier,
        "table_location": table.location(),
        "metadata_location": table.metadata_location,
        "format_version": table.metadata.format_version,
        "schema": schema_columns(table),
        "partition_spec": partition_spec(table),
        "current_snapshot_id": current.snapshot_id if current else None,
        "snapshots": snapshots(table),
        "rows": total,
        "sample": rows,
    }
