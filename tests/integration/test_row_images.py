"""tap-mysql's row-image decoder (taps/tap_mysql/row_images.py) against pymysqlreplication's, on the
real MariaDB binlog: rows of every handled column type with NULLs, signed and unsigned edges,
negative decimals and zero dates, inserted, updated (keys moved too) and deleted, decode to exactly
the library's values (type and text included), an update's old row to its key alone unless the
key moved; a column type it does not handle leaves the table to the library."""

from __future__ import annotations

import datetime as dt
import decimal
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import DeleteRowsEvent, TableMapEvent, UpdateRowsEvent, WriteRowsEvent
from tap_mysql.binlog import TableChanges, reader_server_id
from tap_mysql.row_images import fast_rows

from tests.helpers.databases import mariadb_database

pytestmark = pytest.mark.integration

Pick = Callable[[random.Random], Any]


def _ints(bits: int, unsigned: bool) -> Pick:
    low, high = (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return lambda r: r.choice([low, high, 0, 1, -1 if low else 1, r.randint(low, high)])


def _decimal(precision: int, scale: int) -> Pick:
    top = 10 ** (precision - scale) - 1

    def pick(r: random.Random) -> Any:
        whole = r.choice([0, top, r.randint(0, top)])
        fraction = "".join(r.choice("0123456789") for _ in range(scale))
        text = f"{r.choice(['', '-'])}{whole}" + (f".{fraction}" if scale else "")
        return decimal.Decimal(text)

    return pick


def _text(alphabet: str, longest: int) -> Pick:
    return lambda r: "".join(r.choice(alphabet) for _ in range(r.randint(0, longest)))


def _stamp(zero: str, fsp: int) -> Pick:
    def pick(r: random.Random) -> Any:
        moment = dt.datetime(1971, 1, 2) + dt.timedelta(seconds=r.randint(0, 2_000_000_000))
        text = moment.strftime("%Y-%m-%d %H:%M:%S") + (f".{r.randint(0, 10**fsp - 1):0{fsp}d}" if fsp else "")
        return r.choice([zero, text, text])

    return pick


def _time(fsp: int) -> Pick:
    def pick(r: random.Random) -> Any:
        fraction = f".{r.randint(0, 10**fsp - 1):0{fsp}d}" if fsp else ""
        return (
            r.choice(["-", ""])
            + f"{r.randint(0, 838)}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}{fraction}"
        )

    return pick


WORDS = "abcxyz éü€中 "
COLUMNS: dict[str, tuple[str, Pick]] = {
    "ti": ("tinyint", _ints(8, False)),
    "tu": ("tinyint unsigned", _ints(8, True)),
    "si": ("smallint", _ints(16, False)),
    "su": ("smallint unsigned", _ints(16, True)),
    "mi": ("mediumint", _ints(24, False)),
    "mu": ("mediumint unsigned", _ints(24, True)),
    "i": ("int", _ints(32, False)),
    "iu": ("int unsigned", _ints(32, True)),
    "bi": ("bigint", _ints(64, False)),
    "bu": ("bigint unsigned", _ints(64, True)),
    "f": ("float", lambda r: r.choice([0.0, -1.5, 3.4e38, 1.1, r.uniform(-1e6, 1e6)])),
    "d": ("double", lambda r: r.choice([0.0, -2.5, 1.7e308, 5e-324, r.uniform(-1e12, 1e12)])),
    "n": ("decimal(12,3)", _decimal(12, 3)),
    "n0": ("decimal(5,0)", _decimal(5, 0)),
    "nf": ("decimal(4,4)", _decimal(4, 4)),
    "nw": ("decimal(40,20)", _decimal(40, 20)),
    "b": ("bit(3)", lambda r: r.randint(0, 7)),
    "b2": ("bit(12)", lambda r: r.randint(0, 4095)),
    "flag": ("tinyint(1)", lambda r: r.choice([0, 1])),
    "y": ("year", lambda r: r.choice([0, 1901, 2155, r.randint(1901, 2155)])),
    "e": ("enum('x','y')", lambda r: r.choice(["x", "y", ""])),
    "s": ("set('p','q','r')", lambda r: ",".join(r.sample(["p", "q", "r"], r.randint(0, 3)))),
    "c": ("char(4)", _text(WORDS, 4)),
    "v": ("varchar(10)", _text(WORDS, 10)),
    "vl": ("varchar(300)", _text(WORDS, 300)),
    "la": ("varchar(10) CHARACTER SET latin1", _text("abcéü ", 10)),
    "bn": ("binary(3)", lambda r: r.randbytes(r.randint(0, 3))),
    "vb": ("varbinary(8)", lambda r: r.randbytes(r.randint(0, 8))),
    "t": ("text", _text(WORDS, 400)),
    "bl": ("blob", lambda r: r.randbytes(r.randint(0, 300))),
    "mt": ("mediumtext", _text(WORDS, 50)),
    "j": ("json", lambda r: r.choice(['{"a": [1, 2.5]}', "[]", '"x"', "null"])),
    "u": ("uuid", lambda r: str(r.choice([0, 2**128 - 1, r.getrandbits(128)]).to_bytes(16, "big").hex())),
    "dt": ("datetime", _stamp("0000-00-00 00:00:00", 0)),
    "dt3": ("datetime(3)", _stamp("2024-00-00 00:00:00.000", 3)),
    "dt6": ("datetime(6)", _stamp("0000-00-00 00:00:00.000000", 6)),
    "ts": ("timestamp NULL", _stamp("0000-00-00 00:00:00", 0)),
    "ts6": ("timestamp(6) NULL", _stamp("1970-01-01 00:00:01.000001", 6)),
    "da": (
        "date",
        lambda r: r.choice(["0000-00-00", "2024-00-00", "9999-12-31", "1000-01-01", "2024-02-29"]),
    ),
    "tm": ("time", _time(0)),
    "tm2": ("time(2)", _time(2)),
    "tm5": ("time(5)", _time(5)),
}


def _row(r: random.Random, key: int) -> list[Any]:
    return [key, *(None if r.random() < 0.1 else pick(r) for _, pick in COLUMNS.values())]


def _exact(value: Any) -> Any:
    """A value with its type and its text, so 1.50 and 1.5 or 1 and True differ."""
    if isinstance(value, set):
        return ("set", sorted(value))
    return (type(value).__name__, repr(value))


def _image(row: dict[str, Any]) -> list[Any]:
    return [(name, _exact(value)) for name, value in row.items()]


def _events(service: Any, database: str, table: str, start: tuple[str, int]) -> Iterator[Any]:
    """The table's table maps (described as the tap does) and its row events, from ``start``."""
    settings = {"host": service.host, "port": service.port, "user": service.user, "password": ""}
    connection = service.connect(database)

    def definitions() -> list[tuple[str, str, str | None]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                (database, table),
            )
            return [(str(n), str(t).lower(), c) for n, t, c in cursor.fetchall()]

    changes = TableChanges(settings, database, table, definitions, "mariadb", lambda names: None)
    stream = BinLogStreamReader(
        connection_settings=settings,
        server_id=reader_server_id(),
        log_file=start[0],
        log_pos=start[1],
        resume_stream=True,
        blocking=False,
        only_events=[TableMapEvent, WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent],
    )
    try:
        for event in stream:
            if isinstance(event, TableMapEvent):
                changes.describe(event)
            elif event.table == table:
                yield event
    finally:
        stream.close()
        connection.close()


def _position(cursor: Any) -> tuple[str, int]:
    cursor.execute("SHOW MASTER STATUS")
    name, pos = cursor.fetchone()[:2]
    return str(name), int(pos)


def test_every_handled_type_decodes_as_the_library_does(mariadb_service: Any) -> None:
    r = random.Random(29)
    names = ", ".join(["id", *COLUMNS])
    marks = ", ".join(["%s"] * (len(COLUMNS) + 1))
    assignments = ", ".join(f"{name} = %s" for name in COLUMNS)
    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute("SET SESSION sql_mode = ''")  # zero dates allowed
        cursor.execute(
            f"CREATE TABLE every (id int PRIMARY KEY, {', '.join(f'{n} {t}' for n, (t, _) in COLUMNS.items())})"
        )
        start = _position(cursor)
        cursor.execute(f"INSERT INTO every ({names}) VALUES ({marks})", [-(2**31), *[None] * len(COLUMNS)])
        cursor.executemany(
            f"INSERT INTO every ({names}) VALUES ({marks})", [_row(r, key) for key in range(1, 301)]
        )
        cursor.executemany(f"UPDATE every SET {assignments} WHERE id = %s",
                           [[*_row(r, key)[1:], key] for key in range(1, 301, 3)])  # fmt: skip
        cursor.execute("UPDATE every SET id = id + 1000 WHERE id BETWEEN 1 AND 20")  # key moves
        cursor.execute("DELETE FROM every")
        compared = {"insert": 0, "update": 0, "delete": 0}
        for event in _events(mariadb_service, database, "every", start):
            ours, moved, last = fast_rows(event), fast_rows(event, ["id"]), fast_rows(event, ["id", "tm5"])
            assert ours is not None, "every column type of the table is handled"
            if isinstance(event, UpdateRowsEvent):  # the library's rows read last: they use the packet up
                theirs = [(_image(row["before_values"]), _image(row["after_values"])) for row in event.rows]
                assert [(_image(before), _image(after)) for before, after in ours] == theirs
                for keys, rows in (
                    (["id"], moved),
                    (["id", "tm5"], last),
                ):  # tm5: every other column stepped over
                    assert [(_image(before), _image(after)) for before, after in rows or []] == [
                        (before if any(dict(before)[k] != dict(after)[k] for k in keys) else
                         [(k, v) for k, v in before if k in keys], after)
                        for before, after in theirs
                    ]  # fmt: skip
                compared["update"] += len(ours)
            else:
                assert ours == moved == last
                assert [_image(row) for row in ours] == [_image(row["values"]) for row in event.rows]
                compared["insert" if isinstance(event, WriteRowsEvent) else "delete"] += len(ours)
    assert compared == {"insert": 301, "update": 120, "delete": 301}


def test_a_type_not_handled_is_left_to_the_library(mariadb_service: Any) -> None:
    with mariadb_database(mariadb_service) as (database, cursor):
        cursor.execute("CREATE TABLE shapes (id int PRIMARY KEY, at point, label varchar(5))")
        start = _position(cursor)
        cursor.execute("INSERT INTO shapes VALUES (1, POINT(1, 2), 'a'), (2, NULL, NULL)")
        (event,) = list(_events(mariadb_service, database, "shapes", start))
        assert fast_rows(event) is None
        assert [(row["values"]["id"], row["values"]["label"]) for row in event.rows] == [(1, "a"), (2, None)]
