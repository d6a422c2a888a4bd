"""The row count of a Parquet file, read from its footer without Arrow.

The runner counts the rows of each BATCH file it relays (``pipe_counts``); importing pyarrow for
that alone cost the runner about 40 MB and a tenth of a CPU-second per run. A Parquet file ends
with its Thrift-encoded ``FileMetaData`` (compact protocol), its length (4 bytes, little endian)
and ``PAR1``; ``num_rows`` is the struct's field 3, after the version and the schema, which are
skipped field by field.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

_MAGIC = b"PAR1"
_NUM_ROWS_FIELD = 3
# Compact protocol type ids.
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)


class _Footer:
    """A cursor over the footer's bytes."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def byte(self) -> int:
        value = self.data[self.at]
        self.at += 1
        return value

    def varint(self) -> int:
        shift = result = 0
        while True:
            value = self.byte()
            result |= (value & 0x7F) << shift
            if not value & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        value = self.varint()
        return (value >> 1) ^ -(value & 1)

    def skip(self, kind: int) -> None:
        """Step over one value of compact type ``kind``."""
        if kind in (_TRUE, _FALSE):
            return
        if kind == _BYTE:
            self.at += 1
        elif kind in (_I16, _I32, _I64):
            self.varint()
        elif kind == _DOUBLE:
            self.at += 8
        elif kind == _BINARY:
            length = self.varint()  # read before ``at`` is: the varint moves it
            self.at += length
        elif kind in (_LIST, _SET):
            header = self.byte()
            size = header >> 4 if header >> 4 != 15 else self.varint()
            for _ in range(size):
                self.skip_element(header & 0x0F)
        elif kind == _MAP:
            size = self.varint()
            if size:
                types = self.byte()
                for _ in range(size):
                    self.skip_element(types >> 4)
                    self.skip_element(types & 0x0F)
        elif kind == _STRUCT:
            for _field, field_kind in self.fields():
                self.skip(field_kind)
        else:
            raise ValueError(f"unknown Thrift compact type {kind}")

    def skip_element(self, kind: int) -> None:
        """A list, set or map element: a boolean there takes one byte."""
        if kind in (_TRUE, _FALSE):
            self.at += 1
        else:
            self.skip(kind)

    def fields(self) -> Iterator[tuple[int, int]]:
        """``(field id, type)`` of each field of the struct at the cursor, to its stop byte."""
        last = 0
        while True:
            header = self.byte()
            if header == 0:
                return
            delta, kind = header >> 4, header & 0x0F
            last = last + delta if delta else self.zigzag()
            yield last, kind


def parquet_num_rows(path: str | Path) -> int:
    """Rows of the Parquet file at ``path``; ValueError when it is not a whole Parquet file."""
    with open(path, "rb") as handle:
        handle.seek(-8, os.SEEK_END)
        tail = handle.read(8)
        if tail[4:] != _MAGIC:
            raise ValueError(f"{path}: not a Parquet file")
        length = int.from_bytes(tail[:4], "little")
        handle.seek(-8 - length, os.SEEK_END)
        footer = _Footer(handle.read(length))
    try:
        for field, kind in footer.fields():
            if field == _NUM_ROWS_FIELD and kind == _I64:
                return footer.zigzag()
            footer.skip(kind)
    except IndexError:
        raise ValueError(f"{path}: truncated Parquet footer") from None
    raise ValueError(f"{path}: no row count in its Parquet footer")
