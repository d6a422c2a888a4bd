"""singer-sdk's standard target tests for target-iceberg on the embedded catalog."""

from __future__ import annotations

import tempfile

from singer_sdk.testing import get_target_test_class
from target_iceberg.target import TargetIceberg

_WAREHOUSE = tempfile.mkdtemp(prefix="dativo-std-target-")

TestTargetIceberg = get_target_test_class(
    target_class=TargetIceberg,
    config={"warehouse_dir": _WAREHOUSE, "namespace": "standard", "dead_letter_dir": f"{_WAREHOUSE}/dead"},
)
