"""pgoutput row changes decoded into columns (``tap_postgres.pgoutput_columns``) give the rows the
message-by-message decoder gives, in log order: inserts, updates, deletes, key changes, nulls,
empty and non-ASCII text, other tables' changes and unchanged TOASTed values mixed in."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from tap_postgres.change_columns import decode_one_by_one, text_rows
from tap_postgres.pgoutput_columns import decode_run

from dativo_singer.errors import FatalError

OURS, OTHER = 16384, 16999
NAMES = ["id", "label", "note"]


def _tuple(values: list[Any]) -> bytes:
    out = struct.pack("!h", len(values))
    for value in values:
        if value is None:
            out += b"n"
        elif value is Ellipsis:  # an unchanged TOASTed value
            out += b"u"
        else:
            data = value.encode()
            out += b"t" + struct.pack("!i", len(data)) + data
    return out


def insert(values: list[Any], relid: int = OURS) -> bytes:
    return b"I" + struct.pack("!I", relid) + b"N" + _tuple(values)


def update(values: list[Any], old: list[Any] | None = None, kind: bytes = b"K") -> bytes:
    before = kind + _tuple(old) if old is not None else b""
    return b"U" + struct.pack("!I", OURS) + before + b"N" + _tuple(values)


def delete(values: list[Any]) -> bytes:
    return b"D" + struct.pack("!I", OURS) + b"K" + _tuple(values)


def rows(messages: list[bytes], low: int = 0, high: int | None = None) -> list[tuple[bool, list[Any]]]:
    """(deleted, values) of every row messages ``low`` to ``high`` give, in order."""
    decoded = decode_run(messages, OURS, len(NAMES))
    found: list[tuple[bool, list[Any]]] = []
    for part in decoded.parts(low, len(messages) if high is None else high):
        if isinstance(part, bytes):
            columns, start, stop = decode_one_by_one([part], NAMES, ["id"], "public.items"), 0, None
        else:
            columns, (start, stop) = decoded.columns, part
        found.extend(text_rows(columns, start, stop))
    return found


def test_a_run_decodes_in_log_order() -> None:
    messages = [
        insert(["1", "one", None]),
        insert(["9", "theirs", "x"], relid=OTHER),
        update(["2", "", "ünïcødé ✓"]),
        delete(["3", None, None]),
        update(["5", "moved", "m"], old=["4", None, None]),  # a key change
        update(["6", "same key", "s"], old=["6", "old", "o"], kind=b"O"),  # REPLICA IDENTITY FULL
        insert(["7", "seven", "7" * 300]),
    ]
    assert rows(messages, 3, 6) == [  # one transaction's messages of a fetch
        (True, ["3", None, None]),
        (True, ["4", None, None]),
        (False, ["5", "moved", "m"]),
        (False, ["6", "same key", "s"]),
    ]
    assert rows(messages) == [
        (False, ["1", "one", None]),
        (False, ["2", "", "ünïcødé ✓"]),
        (True, ["3", None, None]),
        (True, ["4", None, None]),
        (False, ["5", "moved", "m"]),
        (False, ["6", "same key", "s"]),
        (False, ["7", "seven", "7" * 300]),
    ]


def test_many_rows_at_once() -> None:
    messages = [insert([str(i), f"label {i}", None if i % 3 else "n"]) for i in range(5000)]
    messages += [delete([str(i), None, None]) for i in range(0, 5000, 7)]
    found = rows(messages)
    assert len(found) == 5000 + len(range(0, 5000, 7))
    assert found[4999] == (False, ["4999", "label 4999", None])
    assert found[3] == (False, ["3", "label 3", "n"])
    assert found[-1] == (True, ["4998", None, None])


def test_unchanged_toasted_value_is_taken_from_the_old_row() -> None:
    messages = [
        insert(["1", "one", "a"]),
        update(["2", "two", ...], old=["2", "two", "big"], kind=b"O"),
        update(["3", "three", "c"]),
    ]
    assert rows(messages) == [
        (False, ["1", "one", "a"]),
        (False, ["2", "two", "big"]),
        (False, ["3", "three", "c"]),
    ]
    with pytest.raises(FatalError, match="column 'note' holds a large"):
        rows([insert(["1", "one", "a"]), update(["2", "two", ...])])


def test_a_tuple_of_another_width_goes_one_by_one() -> None:
    """A message written before a column was added has fewer values: decoded alone, the missing
    value null."""
    assert rows([insert(["1", "one"]), insert(["2", "two", "x"])]) == [
        (False, ["1", "one", None]),
        (False, ["2", "two", "x"]),
    ]
