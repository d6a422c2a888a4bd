"""Legitimate but odd CSV files load with standalone `tap-csv`, each record saying where it
came from (`_sdc_source_file`, `_sdc_source_lineno`); `--about` documents every setting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.tap_csv_cli import messages, records, run_tap

pytestmark = pytest.mark.integration

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "amount": {"type": ["number", "null"]},
    },
    "required": ["id"],
}


def load(tmp_path: Path, data: bytes, schema: dict[str, Any] | None = SCHEMA, **entry: Any) -> Any:
    """Write ``data`` as ``tmp_path/data/f.csv``, run the tap on it; (records, stderr)."""
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "f.csv").write_bytes(data)
    config: dict[str, Any] = {
        "files": [{"object": "deals", "path": "data/f.csv", **entry}],
        "base_dir": str(tmp_path),
    }
    if schema is not None:
        config["schemas"] = {"deals": schema}
    result = run_tap(tmp_path, config)
    assert result.returncode == 0, result.stderr
    return records(result.stdout), result.stderr


def test_utf8_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    rows, _ = load(tmp_path, b"\xef\xbb\xbfid,name,amount\n1,Alpha,10.5\n")
    assert rows == [
        {"_sdc_source_file": "data/f.csv", "_sdc_source_lineno": 2, "id": 1, "name": "Alpha", "amount": 10.5}
    ]


def test_cell_larger_than_csv_default_limit_loads(tmp_path: Path) -> None:
    big = "x" * (300 * 1024)
    rows, _ = load(tmp_path, f'id,name,amount\n1,"{big}",1\n2,b,2\n'.encode())
    assert [r["name"] for r in rows] == [big, "b"]


def test_multiline_cells_crlf_and_escaped_quotes(tmp_path: Path) -> None:
    data = b'id,name,amount\r\n1,"two\r\nlines",1\r\n2,"say ""hi""",2\r\n3,"last\r\none",3\r\n'
    rows, _ = load(tmp_path, data)
    assert [(r["_sdc_source_lineno"], r["name"]) for r in rows] == [
        (2, "two\r\nlines"),
        (4, 'say "hi"'),
        (5, "last\r\none"),
    ]


def test_header_names_outside_the_schema_are_ignored_and_blanks_trimmed(tmp_path: Path) -> None:
    rows, stderr = load(tmp_path, b" id , name,amount,com pany/../x\n1,A,2,zzz\n")
    assert rows == [
        {"_sdc_source_file": "data/f.csv", "_sdc_source_lineno": 2, "id": 1, "name": "A", "amount": 2.0}
    ]
    assert "Column 'com pany/../x'" in stderr and "not in the schema; ignored" in stderr


def test_without_schema_odd_header_names_are_string_columns(tmp_path: Path) -> None:
    rows, _ = load(tmp_path, b"id,com pany/../x\n1,Acme\n", schema=None)
    assert rows == [
        {"_sdc_source_file": "data/f.csv", "_sdc_source_lineno": 2, "id": "1", "com pany/../x": "Acme"}
    ]


@pytest.mark.parametrize(
    ("data", "entry"),
    [
        ("id;name;amount\n1;Café;2\n".encode(), {"delimiter": ";"}),
        ("id\tname\tamount\n1\tCafé\t2\n".encode(), {"delimiter": "\\t"}),
        ("id,name,amount\n1,Café,2\n".encode("latin-1"), {"encoding": "latin-1"}),
        ("id,name,amount\n1,Café,2\n".encode("utf-16"), {"encoding": "utf-16"}),
        ("1,Café,2\n".encode(), {"header": False, "columns": ["id", "name", "amount"]}),
        ("exported by X\n\nid,name,amount\n1,Café,2\n".encode(), {"skip_rows": 2}),
    ],
    ids=["semicolon", "tab", "latin-1", "utf-16", "columns", "skip_rows"],
)
def test_configured_dialects_load(tmp_path: Path, data: bytes, entry: dict[str, Any]) -> None:
    rows, _ = load(tmp_path, data, **entry)
    [row] = rows
    assert (row["id"], row["name"], row["amount"]) == (1, "Café", 2.0)
    lines = data.decode(entry.get("encoding", "utf-8")).splitlines()
    assert row["_sdc_source_lineno"] == len(lines)


def test_empty_file_loads_nothing(tmp_path: Path) -> None:
    rows, _ = load(tmp_path, b"")
    assert rows == []


def test_file_outside_base_dir_keeps_its_absolute_path(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.csv"
    outside.write_text("id,name,amount\n1,A,2\n")
    (tmp_path / "base").mkdir()
    config = {
        "files": [{"object": "deals", "path": str(outside)}],
        "base_dir": str(tmp_path / "base"),
        "schemas": {"deals": SCHEMA},
    }
    result = run_tap(tmp_path, config)
    assert result.returncode == 0, result.stderr
    assert [r["_sdc_source_file"] for r in records(result.stdout)] == [str(outside)]


def test_resumed_file_keeps_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text('id,name,amount\n1,"a\nb",1\n2,c,2\n3,d,3\n')
    stat = path.stat()
    state = {
        "bookmarks": {
            "deals": {
                "files": {
                    str(path.resolve()): {
                        "size": stat.st_size,
                        "mtime_ns": stat.st_mtime_ns,
                        "rows": 1,
                        "done": False,
                    }
                }
            }
        }
    }
    (tmp_path / "state.json").write_text(json.dumps(state))
    config = {"files": [{"object": "deals", "path": str(path)}], "schemas": {"deals": SCHEMA}}
    result = run_tap(tmp_path, config, "--state", str(tmp_path / "state.json"))
    assert result.returncode == 0, result.stderr
    assert [(r["id"], r["_sdc_source_lineno"]) for r in records(result.stdout)] == [(2, 4), (3, 5)]


def test_about_describes_every_setting() -> None:
    from tap_csv.tap import TapCSV

    schema = TapCSV.config_jsonschema
    own = {**schema["properties"], **schema["properties"]["files"]["items"]["properties"]}
    assert {"files", "delimiter", "encoding", "quotechar", "schemas", "header", "columns"} <= set(own)
    assert [name for name, prop in own.items() if not prop.get("description")] == []
    assert "activate-version" not in [str(c) for c in TapCSV.capabilities]


def test_schema_message_has_no_bookmark_properties(tmp_path: Path) -> None:
    # Incremental per file without a replication key: targets append rather than merge.
    (tmp_path / "f.csv").write_text("id,name,amount\n1,A,2\n")
    config = {"files": [{"object": "deals", "path": "f.csv"}], "base_dir": str(tmp_path)}
    result = run_tap(tmp_path, {**config, "schemas": {"deals": SCHEMA}})
    [schema] = messages(result.stdout, "SCHEMA")
    assert not schema.get("bookmark_properties")
    assert set(schema["schema"]["properties"]) >= {"_sdc_source_file", "_sdc_source_lineno"}
