"""tap-mysql's binlog positions and value conversions, without a server: the integer form orders
as the server's positions, and each binlog value becomes what the snapshot's SELECT gives."""

from __future__ import annotations

import datetime as dt

import pytest
from tap_mysql.binlog import BinlogPosition
from tap_mysql.binlog_values import binlog_converters

from dativo_singer.errors import FatalError
from dativo_singer.sql import types as k


def test_positions_order_across_files_and_round_trip() -> None:
    a, b, c = (BinlogPosition("mariadb-bin.000001", 4), BinlogPosition("mariadb-bin.000001", 900),
               BinlogPosition("mariadb-bin.000002", 4))  # fmt: skip
    assert a.lsn < b.lsn < c.lsn
    assert c.lsn == (2 << 32) | 4
    assert BinlogPosition.parse(str(b)) == b
    for bad in ("", "mariadb-bin.000001", "binlog:12", "mariadb-bin.000001:x"):
        with pytest.raises(FatalError, match="log_position"):
            BinlogPosition.parse(bad)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (
            k.ColumnKind(k.TIME_TEXT, "time(2)"),
            dt.timedelta(hours=-25, seconds=-1, microseconds=-500000),
            "-25:00:01.50",
        ),
        (k.ColumnKind(k.TIME_TEXT, "time"), dt.timedelta(hours=838, minutes=59, seconds=59), "838:59:59"),
        (k.ColumnKind(k.TIME_TEXT, "time(6)"), dt.timedelta(0), "00:00:00.000000"),
        (k.ColumnKind(k.FLOAT32, "float"), 1.100000023841858, 1.1),
        (k.ColumnKind(k.FLOAT32, "float"), 3.4028234663852886e38, 3.4028235e38),
        (k.ColumnKind(k.BIT, "bit(3)"), "101", 5),
        (k.ColumnKind(k.INT_BOOLEAN, "bit(1)"), "1", 1),
        (k.ColumnKind(k.BINARY, "binary(4)"), "ab", "61620000"),
        (k.ColumnKind(k.BINARY, "varbinary(8)"), "\xff\x00", "ff00"),
        (k.ColumnKind(k.STRING, "set('p','q','r')"), {"r", "p"}, "p,r"),
        (k.ColumnKind(k.UUID, "uuid"), bytes(range(16)), "00010203-0405-0607-0809-0a0b0c0d0e0f"),
    ],
)
def test_binlog_value_is_the_snapshot_value(kind: k.ColumnKind, value: object, expected: object) -> None:
    assert binlog_converters({"c": kind})["c"](value) == expected
