"""Change streams (LOG_BASED, docs/CDC.md): deletes and truncates of the source land as such.

A stream whose SCHEMA has ``_sdc_deleted_at`` and key properties is a change stream, merged on
its key. With ``deletes: hard`` (the default) a delete RECORD removes its key's row: the key
takes part in the merge (its old row is dropped when its data file is rewritten, copy-on-write)
and the delete RECORD itself is not added. With ``deletes: soft`` it is merged as any row, so
the row stays with ``_sdc_deleted_at`` set.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dativo_singer.sink import CHANGE_COLUMNS as CHANGE_COLUMNS  # re-exported

SDC_DELETED_AT = "_sdc_deleted_at"
DELETE_MODES = ("hard", "soft")


def is_change_stream(schema: dict[str, Any], key_properties: list[str]) -> bool:
    """True for a LOG_BASED stream's schema (docs/CDC.md)."""
    return bool(key_properties) and SDC_DELETED_AT in (schema.get("properties") or {})


def without_deletes(data: pa.Table | None, keys: list[str]) -> tuple[pa.Table | None, pa.Table | None]:
    """(the rows to add, every key the commit changes): hard deletes leave their key only."""
    if data is None or SDC_DELETED_AT not in data.column_names:
        return data, None
    deleted = pc.is_valid(data.column(SDC_DELETED_AT))
    if not pc.any(deleted).as_py():
        return data, None
    return data.filter(pc.invert(deleted)), data.select(keys)
