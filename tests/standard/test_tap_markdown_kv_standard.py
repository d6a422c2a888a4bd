"""singer-sdk's standard tap tests for tap-markdown-kv, over the bundled employee documents."""

from __future__ import annotations

from pathlib import Path

from singer_sdk.testing import get_tap_test_class
from tap_markdown_kv.tap import TapMarkdownKV

REPO = Path(__file__).resolve().parents[2]

CONFIG = {
    "files": [
        {"object": "employees", "path": "data/markdown_kv/employees", "storage": "hybrid"},
        {"object": "pairs", "path": "data/markdown_kv/employees/*.md", "storage": "row_per_kv"},
        {"object": "documents", "path": "data/markdown_kv/employees/sales.md", "storage": "string"},
    ],
    "base_dir": str(REPO),
    "schemas": {
        "employees": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": ["string", "null"]},
                "salary": {"type": ["number", "null"]},
                "start_date": {"type": ["string", "null"], "format": "date"},
                "remote": {"type": ["boolean", "null"]},
                "markdown": {"type": "string"},
            },
            "required": ["id"],
        }
    },
    "key_properties": {"employees": ["id"]},
}

TestTapMarkdownKV = get_tap_test_class(tap_class=TapMarkdownKV, config=CONFIG)
