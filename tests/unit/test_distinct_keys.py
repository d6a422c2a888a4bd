"""Whether a BATCH file's keys are all distinct (a file kept as it is must hold one row per
key): the quick in-order and sorted checks answer as grouping the rows does."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from target_iceberg.file_registration import all_distinct


def _grouped(table: pa.Table) -> bool:
    return bool(
        table.group_by(table.column_names, use_threads=False).aggregate([]).num_rows == table.num_rows
    )


@pytest.mark.parametrize(
    "keys",
    [
        [1, 2, 3],
        [3, 2, 1],
        [1, 1],
        [None, None],
        [None, 1],
        [1, None, 2, None],
        [5],
        ["a", "b", "a"],
        ["b", "a"],
        [2**62, -(2**62), 0],
        [1, 2, 2],
    ],
)
def test_known_cases(keys: list[object]) -> None:
    table = pa.table({"k": pa.array(keys)})
    assert all_distinct(table) == _grouped(table)


def test_random_keys_in_chunks_of_ints_strings_and_pairs() -> None:
    rnd = random.Random(20261205)
    for _ in range(500):
        values = [rnd.choice([None, *range(15)]) for _ in range(rnd.randrange(0, 25))]
        half = len(values) // 2
        ints = pa.chunked_array([pa.array(values[:half], pa.int64()), pa.array(values[half:], pa.int64())])
        texts = pa.array([None if v is None else f"k{v}" for v in values])
        for table in (
            pa.table({"k": ints}),
            pa.table({"k": texts}),
            pa.table({"a": ints, "b": pa.array([v is None for v in values])}),
        ):
            assert all_distinct(table) == _grouped(table), table.to_pylist()


def test_run_keys_find_exactly_the_keys_seen_in_earlier_batches() -> None:
    from target_iceberg.rows import RunKeys

    rnd = random.Random(7)
    for _ in range(600):
        ordered = rnd.random() < 0.5  # ids read in order: the batches skip the join
        seen: set[object] = set()
        run = RunKeys(["k"])
        start = rnd.randrange(-3, 3)
        for _ in range(rnd.randrange(1, 6)):
            size = rnd.randrange(0, 8)
            if ordered and rnd.random() < 0.2:  # then a batch out of order
                ordered = False
            if ordered:
                values: list[object] = list(range(start, start + size))
                start += size + rnd.randrange(0, 2)
            else:
                values = [rnd.choice([None, *range(12)]) for _ in range(size)]
            found = run.repeated(pa.table({"k": pa.array(values, pa.int64())}))
            expected = {v for v in values if v is not None and v in seen}
            assert sorted(found.column("k").to_pylist()) == sorted(expected)
            seen.update(v for v in values if v is not None)


def test_run_keys_of_ids_in_order_hold_no_key_values() -> None:
    """Ten million consecutive ids in 20 batches are held as one range, and still found."""
    from target_iceberg.rows import RunKeys

    run = RunKeys(["id"])
    for start in range(1, 10_000_001, 500_000):
        ids = pa.table({"id": pa.array(range(start, start + 500_000), pa.int64())})
        assert run.repeated(ids).num_rows == 0
    assert run.held_keys == 0
    again = run.repeated(pa.table({"id": pa.array([0, 7, 9_999_999, 10_000_001, 7], pa.int64())}))
    assert sorted(again.column("id").to_pylist()) == [7, 9_999_999]


def test_run_keys_of_a_required_key_mix_ranges_and_values() -> None:
    """A key column declared not null (as the table's schema gives it), ids in order then out of
    order: the range and the values held are searched together."""
    from target_iceberg.rows import RunKeys

    schema = pa.schema([pa.field("id", pa.int64(), nullable=False)])
    run = RunKeys(["id"])
    for ids in ([1, 2, 3, 4], [10, 12, 11], [3, 11, 20]):
        found = run.repeated(pa.table({"id": pa.array(ids, pa.int64())}, schema=schema))
    assert sorted(found.column("id").to_pylist()) == [3, 11]
