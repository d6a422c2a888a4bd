"""The interop matrix's cell comparison: a peer's formatting is no difference, a lost digit or a
missing row is."""

from __future__ import annotations

from decimal import Decimal

from tests.interop.matrix import compare

SENT = [
    {
        "id": 1,
        "wide": "1234567890123456789012345678.1234567891",
        "at": "2024-01-01T10:00:00+00:00",
        "ok": True,
    },
    {"id": 2, "wide": None, "at": None, "ok": False},
]


def test_formatting_alone_is_no_difference() -> None:
    as_csv = [  # target-csv: Python's str of each value, in another order
        {"id": "2", "wide": "", "at": "", "ok": "False"},
        {
            "id": "1",
            "wide": "1234567890123456789012345678.1234567891",
            "at": "2024-01-01 10:00:00+00:00",
            "ok": "True",
        },
    ]
    assert compare(SENT, as_csv, ["id"]) == (8, 8, set())


def test_a_lost_digit_and_a_missing_row_are_counted() -> None:
    rounded = [
        {
            "id": 1,
            "wide": Decimal("1234567890123456789012345678.123456789"),
            "at": "2024-01-01T10:00:00Z",
            "ok": True,
        }
    ]
    equal, total, differ = compare(SENT, rounded, ["id"])
    assert (equal, total) == (5, 8)  # row 1: all but wide; row 2 missing: only its null cells match
    assert differ == {"id", "wide", "ok"}
