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
    [*((name, None) for name in READ_BACK_FILES), ("multiple_state_messages", False)],
)
def test_tables_hold_what_was_sent(name: str, after_last_state: bool | None, tmp_path: Path) -> None:
    """Every record sent lands at a clean end of input (the default); with
    ``commit_records_after_last_state: false`` only what a STATE covers (the suite's
    multiple_state_messages file ends with records after its last STATE: the target says so
    and exits 2, and those records are not in the table)."""
    config: dict[str, object] = {
        "warehouse_dir": str(tmp_path / "wh"),
        "namespace": "read_back",
        "dead_letter_dir": str(tmp_path / "dead"),
    }
    if after_last_state is not None:
        config["commit_records_after_last_state"] = after_last_state
    assert_tables_hold_what_was_sent(config, name, tmp_path)
