"""Column policies for classified data (hash, mask, drop, allow), applied before any write."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.compute as pc

from dativo_singer.errors import FatalError

ACTIONS = ("allow", "hash", "mask", "drop")
MASK = "****"


def check_policies(policies: dict[str, str]) -> None:
    """Unknown actions are a configuration error."""
    for column, action in policies.items():
        if action not in ACTIONS:
            raise FatalError(f"column policy for {column!r}: unknown action {action!r}")


def _hash_column(column: pa.ChunkedArray, salt: str) -> pa.Array:
    prefix = salt.encode()
    return pa.array(
        [
            None if value is None else hashlib.sha256(prefix + str(value).encode()).hexdigest()
            for value in column.to_pylist()
        ],
        pa.string(),
    )


def _mask_column(column: pa.ChunkedArray) -> pa.Array:
    return pc.if_else(pc.is_null(column), pa.scalar(None, pa.string()), pa.scalar(MASK))


def apply_policies(data: pa.Table, policies: dict[str, str], salt: str) -> pa.Table:
    """The batch with each classified column hashed (salted SHA-256), masked or dropped."""
    for column, action in policies.items():
        if column not in data.column_names or action == "allow":
            continue
        index = data.column_names.index(column)
        if action == "drop":
            data = data.remove_column(index)
            continue
        values = (
            _hash_column(data.column(index), salt) if action == "hash" else _mask_column(data.column(index))
        )
        field = pa.field(column, pa.string(), nullable=data.schema.field(index).nullable)
        data = data.set_column(index, field, values)
    return data
