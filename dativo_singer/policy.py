"""Column policies for classified data (hash, mask, drop, allow) on Arrow batches, at every
depth: top-level columns, struct fields, lists of structs and objects held as JSON text.

Paths, the hash and the RECORD-path twin are in ``dativo_singer.policy_paths``; the tap applies
policies before a value leaves it (``dativo_singer.tap_policy``), a standalone target before
it writes (``dativo_singer.buffer``).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from dativo_singer.policy_paths import (
    ACTIONS,
    ITEMS,
    MASK,
    PolicyTree,
    check_policies,
    hash_value,
    policy_tree,
    protect_record,
)

__all__ = ["ACTIONS", "MASK", "apply_policies", "apply_tree", "check_policies"]


def _hash_column(column: pa.Array | pa.ChunkedArray, salt: str) -> pa.Array:
    return pa.array(
        [None if value is None else hash_value(value, salt) for value in column.to_pylist()],
        pa.string(),
    )


def _mask_column(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return pc.if_else(pc.is_null(column), pa.scalar(None, pa.string()), pa.scalar(MASK))


def _leaf(column: pa.Array | pa.ChunkedArray, action: str, salt: str) -> pa.Array:
    return _hash_column(column, salt) if action == "hash" else _mask_column(column)


def _json_text(column: pa.Array, tree: PolicyTree, salt: str) -> pa.Array:
    """Objects held as JSON text: each document protected inside (per value: no Arrow kernel
    reads JSON), written back as compact JSON text; text that is no JSON document is hashed."""
    out: list[str | None] = []
    for text in column.to_pylist():
        if text is None:
            out.append(None)
            continue
        out.append(protect_record({"v": text}, {"v": tree}, salt)["v"])
    return pa.array(out, column.type)


def _struct(column: pa.StructArray, tree: PolicyTree, salt: str) -> pa.Array:
    arrays, fields = [], []
    for index, child in enumerate(column.flatten()):  # children with the parent's nulls
        field = column.type.field(index)
        rule = tree.get(field.name)
        if rule == "drop":
            continue
        if isinstance(rule, str):
            child, field = _leaf(child, rule, salt), pa.field(field.name, pa.string())
        elif isinstance(rule, dict):
            child = apply_tree(child, rule, salt)
            field = pa.field(field.name, child.type, nullable=field.nullable)
        arrays.append(child)
        fields.append(field)
    mask = column.is_null() if column.null_count else None
    return pa.StructArray.from_arrays(arrays, fields=fields, mask=mask)


def _list(column: pa.Array, rule: str | PolicyTree, salt: str) -> pa.Array:
    if rule == "drop":
        return pa.nulls(len(column), column.type)
    values = pc.list_flatten(column)
    values = _leaf(values, rule, salt) if isinstance(rule, str) else apply_tree(values, rule, salt)
    large = pa.types.is_large_list(column.type)
    width = pa.int64() if large else pa.int32()
    lengths = pc.fill_null(pc.list_value_length(column), 0).cast(width)
    offsets = pa.concat_arrays([pa.array([0], width), pc.cumulative_sum(lengths)])
    mask = column.is_null() if column.null_count else None
    build = pa.LargeListArray if large else pa.ListArray
    return build.from_arrays(offsets, values, mask=mask)


def apply_tree(column: pa.Array | pa.ChunkedArray, tree: PolicyTree, salt: str) -> pa.Array:
    """One nested column with the tree's fields protected (structs, lists, JSON text); a
    column of another type, whose classified fields cannot be told apart, is hashed whole."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if pa.types.is_struct(kind):
        return _struct(column, tree, salt)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _list(column, tree.get(ITEMS, tree), salt)  # no ``[]``: each element's fields
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _json_text(column, tree, salt)
    return _hash_column(column, salt)  # no fields to tell apart: hashed whole, as on records


def apply_policies(data: pa.Table, policies: dict[str, str], salt: str) -> pa.Table:
    """The batch with each classified value hashed (salted SHA-256), masked or dropped, at
    every depth (see ``policy_paths`` for the keys)."""
    for column, rule in policy_tree(policies).items():
        if column not in data.column_names:
            continue
        index = data.column_names.index(column)
        if rule == "drop":
            data = data.remove_column(index)
            continue
        nullable = data.schema.field(index).nullable
        if isinstance(rule, str):
            values = _leaf(data.column(index), rule, salt)
        else:
            values = apply_tree(data.column(index), rule, salt)
        data = data.set_column(index, pa.field(column, values.type, nullable=nullable), values)
    return data
