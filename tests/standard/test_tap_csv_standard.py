"""singer-sdk's standard tap tests for tap-csv."""

from __future__ import annotations

from pathlib import Path

from singer_sdk.testing import get_tap_test_class
from tap_csv.tap import TapCSV

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "csv"

CONFIG = {
    "files": [{"object": "deals", "path": "deals_small.csv"}],
    "base_dir": str(FIXTURES),
    "schemas": {
        "deals": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": ["string", "null"]},
                "amount": {"type": ["number", "null"]},
                "closed": {"type": ["boolean", "null"]},
                "when": {"type": ["string", "null"], "format": "date"},
            },
            "required": ["id"],
        }
    },
    "key_properties": {"deals": ["id"]},
}

TestTapCSV = get_tap_test_class(tap_class=TapCSV, config=CONFIG)

# Without schemas every header column is a nullable string.
TestTapCSVInferred = get_tap_test_class(
    tap_class=TapCSV,
    config={"files": [{"object": "deals", "path": "deals_small.csv"}], "base_dir": str(FIXTURES)},
)
