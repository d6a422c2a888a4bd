"""singer-sdk's standard target tests for target-iceberg on the embedded catalog, and the tables
read back and compared value by value."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from singer_sdk.testing import get_target_test_class
from target_iceberg.target import TargetIceberg

from tests.helpers.read_back import READ_BACK_FILES, assert_tables_hold_what_was_sent

# Removed when the interpreter exits (the suite's config must exist when the class is built).
_WAREHOUSE = tempfile.TemporaryDirectory(prefix="dativo-std-target-")
_CONFIG = {
    "warehouse_dir": _WAREHOUSE.name,
    "namespace": "standard",
    "dead_letter_dir": f"{_WAREHOUSE.name}/dead",
}

TestTargetIceberg = get_target_test_class(target_class=TargetIceberg, config=_CONFIG)


@pytest.mark.parametrize(
    ("name", "after_last_state"),
    [*((name, False) for name in READ_BACK_FILES), ("multiple_state_messages", True)],
)
def test_tables_hold_what_was_sent(name: str, after_last_state: bool, tmp_path: Path) -> None:
    """Every record a STATE covers lands (records after the last STATE only with
    commit_records_after_last_state: the suite's multiple_state_messages file ends with one)."""
    config = {
        "warehouse_dir": str(tmp_path / "wh"),
        "namespace": "read_back",
        "dead_letter_dir": str(tmp_path / "dead"),
        "commit_records_after_last_state": after_last_state,
    }
    assert_tables_hold_what_was_sent(config, name, tmp_path)
