"""The ``partitions`` job key: keys, slices and the errors naming file and field."""

from __future__ import annotations

import datetime as dt

import pytest

from dativo_runner.errors import JobConfigError
from dativo_runner.partitions import Partition, job_partitions


def test_static_slices_by_name() -> None:
    found = job_partitions(
        {"partitions": {"static": {"eu": {"path": "eu/*.csv"}, "us": {"where": "region = 'us'"}}}}
    )
    assert found is not None and found.kind == "static" and found.keys == ("eu", "us")
    assert found.get("eu") == Partition("eu", path="eu/*.csv")
    assert found.get("us").where == "region = 'us'"


def test_days_and_months_end_exclusive() -> None:
    days = job_partitions(
        {
            "partitions": {
                "time_window": {"column": "d", "unit": "day", "start": "2024-02-27", "end": "2024-03-02"}
            }
        }
    )
    assert days is not None and days.keys == ("2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01")
    assert days.get("2024-02-29") == Partition("2024-02-29", start="2024-02-29", end="2024-03-01", column="d")
    months = job_partitions(
        {
            "partitions": {
                "time_window": {
                    "column": "d",
                    "unit": "month",
                    "start": dt.date(2024, 1, 15),
                    "end": "2024-04-01",
                }
            }
        }
    )
    assert months is not None and months.keys == ("2024-01", "2024-02", "2024-03")
    assert (months.get("2024-02").start, months.get("2024-02").end) == ("2024-02-01", "2024-03-01")


def test_unknown_key_names_the_valid_ones() -> None:
    found = job_partitions(
        {"partitions": {"static": {"eu": {"path": "a"}, "us": {"path": "b"}}}}, file="jobs/x.yaml"
    )
    assert found is not None
    with pytest.raises(JobConfigError) as caught:
        found.get("asia")
    assert str(caught.value) == "jobs/x.yaml: partitions: unknown partition 'asia'; valid keys: eu, us"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            {"static": {"eu": {"path": "a", "where": "b"}}},
            "partitions.static.eu: give exactly one of path or where",
        ),
        (
            {"time_window": {"column": "d", "unit": "day", "start": "2024-13-01"}},
            "partitions.time_window.start: '2024-13-01' is not a date",
        ),
        (
            {"time_window": {"column": "d", "unit": "day", "start": "2024-02-01", "end": "2024-01-01"}},
            "partitions.time_window.end: 2024-01-01 is not after start",
        ),
    ],
)
def test_malformed_blocks_name_the_field(block: dict, message: str) -> None:
    with pytest.raises(JobConfigError) as caught:
        job_partitions({"partitions": block}, file="jobs/x.yaml")
    assert str(caught.value).startswith(f"jobs/x.yaml: {message}")


def test_unpartitioned_job() -> None:
    assert job_partitions({"tenant_id": "acme"}) is None
