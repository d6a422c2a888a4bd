"""The interop matrix at scale (tests/interop/matrix_large.py): rows read back are checked cell by
cell against the generated table, whatever form a target gives them; a changed cell, a missing or
repeated row is counted; writing the table replaces only the pairs run."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from tests.interop.matrix_large import BEGIN, END, HEADER, merge
from tests.interop.matrix_rows import COLUMNS, Tally, row


def as_jsonl(i: int) -> dict[str, Any]:
    """Row ``i`` as target-jsonl writes it: JSON values, timestamps as ISO text."""
    values = dict(zip(COLUMNS, row(i), strict=True))
    values["at"] = values["at"].isoformat()
    values["amount"] = None if values["amount"] is None else float(values["amount"])
    return json.loads(json.dumps(values), parse_float=Decimal)


def as_postgres(i: int) -> dict[str, Any]:
    """Row ``i`` as psycopg2 reads it from target-postgres: Decimal, aware datetime, dict, extra columns."""
    return {**dict(zip(COLUMNS, row(i), strict=True)), "_sdc_batched_at": dt.datetime(2026, 1, 1)}


def test_every_cell_of_every_form_is_equal() -> None:
    for form in (as_jsonl, as_postgres):
        tally = Tally(30)
        for i in range(30, 0, -1):  # any order
            tally.add(form(i))
        assert tally.summary() == ("30→30", "180/180")


def test_the_generated_table_has_every_kind_of_cell() -> None:
    rows = [row(i) for i in range(1, 71)]
    assert {r[1] is None for r in rows} == {True, False}  # NULL text
    assert any("\n" in r[1] and "🚀" not in r[1] for r in rows if r[1])
    assert {r[2] is None for r in rows} == {True, False}
    assert any(r[2] is not None and r[2] < 0 for r in rows)
    assert {r[4] for r in rows} == {True, False, None}
    assert len({r[3] for r in rows}) == 70 and all(r[3].microsecond for r in rows[:5])


def test_a_changed_cell_a_missing_and_a_repeated_row_are_counted() -> None:
    tally = Tally(5)
    for i in (1, 2, 2, 4):
        tally.add(as_postgres(i))
    changed = as_postgres(5)
    changed["amount"] = Decimal(str(changed["amount"])) + Decimal("0.01")
    changed["at"] = changed["at"].replace(tzinfo=dt.timezone(dt.timedelta(hours=1)))  # another moment
    tally.add(changed)
    counts, cells = tally.summary()
    assert counts == "5→5 (1 missing, 1 extra)"
    assert cells == "22/30 (differ: amount 1, at 1)"
    assert tally.example["amount"].startswith("id 5: ")


def test_a_row_without_a_known_key_counts_as_extra() -> None:
    tally = Tally(2)
    for landed in (as_postgres(1), as_postgres(2), {"id": 7}, {"id": "x"}):
        tally.add(landed)
    assert tally.summary() == ("2→4 (2 extra)", "12/12 (differ: id 2)")


def test_writing_replaces_only_the_pairs_run() -> None:
    old = (
        f"intro\n{BEGIN}\n{HEADER}\n"
        "| tap-mysql | target-jsonl | old |\n"
        "| tap-postgres | target-jsonl | old |\n"
        f"{END}\nafter\n"
    )
    text = merge(old, {("tap-postgres", "target-jsonl"): "| tap-postgres | target-jsonl | new |"})
    assert text == (
        f"intro\n{BEGIN}\n{HEADER}\n"
        "| tap-postgres | target-jsonl | new |\n"
        "| tap-mysql | target-jsonl | old |\n"
        f"{END}\nafter\n"
    )
