"""Standalone `tap-csv` on a corpus of bad CSV files and configs, run as a user would.

Each bad input exits 2 with exactly one `tap-csv: error:` line naming the file (and line and
column) or the setting, and no traceback. Start-up checks (config, binary file, header) stop
before any RECORD; checks that need reading (bad bytes, an open quote, a short row further
down) may follow some records, which the runner never commits since the tap failed.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.tap_csv_cli import TAP, one_error_line, records, run_tap

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "bad_input" / "csv"
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "amount": {"type": ["number", "null"]},
    },
    "required": ["id"],
}
MODES = {"sync": [], "discover": ["--discover"], "test": ["--test"]}


@dataclass(frozen=True)
class Case:
    """One corpus file (relative to CORPUS) and the fragments its error line must hold."""

    file: str
    expected: tuple[str, ...]
    entry: dict[str, Any] = field(default_factory=dict)
    startup: bool = True  # found before any RECORD is written


FILE_CASES: dict[str, Case] = {
    "delimiter does not match": Case(
        "semicolon_delimited.csv",
        ("line 1:", "header has 1 column but the schema of 'deals' expects 3", "files[0].delimiter to ';'"),
    ),
    "bytes not utf-8": Case(
        "latin1_bytes.csv", ("line 2:", "not valid utf-8 (byte 0xE9 at offset 20); set files[0].encoding")
    ),
    "PNG image": Case("image.png", ("looks binary (NUL byte at offset 8)",)),
    "NUL byte": Case("nul_byte.csv", ("looks binary (NUL byte at offset 18)",)),
    "unterminated quote": Case(
        "unterminated_quote.csv", ("line 2:", "quoted field starts here and is never closed")
    ),
    "unterminated quote on the last line": Case(
        "unterminated_quote_last_line.csv",
        ("line 4:", "quoted field starts here and is never closed"),
        startup=False,
    ),
    "duplicate header column": Case(
        "duplicate_header.csv", ("line 1 column 3:", "header name 'id' repeats column 1")
    ),
    "empty header name": Case("empty_header_name.csv", ("line 1 column 2:", "header name is empty")),
    "short row": Case("short_row.csv", ("line 3 column *:", "expected 3 fields, found 2"), startup=False),
    "short last row holding a lone quote": Case(
        "inch_mark_short_row.csv", ("line 3 column *:", "expected 3 fields, found 2"), startup=False
    ),
    "long row after a multi-line cell": Case(
        "long_row_after_multiline.csv", ("line 4 column *:", "expected 3 fields, found 4"), startup=False
    ),
    "required column missing": Case(
        "missing_required_column.csv", ("line 1:", "required column(s) 'id' of 'deals' missing")
    ),
    "no header column in the schema": Case(
        "no_schema_column.csv", ("line 1:", "none of the header's columns ('x', 'y') is in the schema")
    ),
    "second file of a glob has a bad header": Case(
        "second_file_bad/b.csv", ("line 1 column 3:", "repeats column 1"), {"path": "second_file_bad/*.csv"}
    ),
}

CONFIG_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "header false without columns": (
        {"header": False},
        "files[0]: header is false but no columns are given",
    ),
    "unknown encoding": ({"encoding": "utf-99"}, "files[0].encoding: unknown encoding 'utf-99'"),
    "MeltanoLabs tap-csv config": (
        {"object": None, "entity": "deals", "keys": ["id"]},
        "files[0]: 'object' is required (this tap names the stream 'object'; "
        "'entity' is not a setting of this tap",
    ),
    "delimiter of two characters": ({"delimiter": ";;"}, "files[0].delimiter: must be one character"),
    "empty column name": (
        {"header": False, "columns": ["id", " "]},
        "files[0].columns[1]: column name is empty",
    ),
    "wrong type": ({"skip_rows": "two"}, "files[0].skip_rows: 'two' is not of type 'integer'"),
}


def deals_config(entry: dict[str, Any], base_dir: Path = CORPUS) -> dict[str, Any]:
    """A config reading one files entry as object 'deals', typed by SCHEMA."""
    files = [{k: v for k, v in {"object": "deals", "path": "good.csv", **entry}.items() if v is not None}]
    return {"files": files, "base_dir": str(base_dir), "schemas": {"deals": SCHEMA}}


@pytest.mark.parametrize("name", sorted(FILE_CASES))
def test_bad_file_is_one_line_naming_file_and_line(tmp_path: Path, name: str) -> None:
    case = FILE_CASES[name]
    result = run_tap(tmp_path, deals_config({"path": case.file, **case.entry}))
    line = one_error_line(result)
    assert line.startswith(f"tap-csv: error: {CORPUS / case.file}"), line
    for fragment in case.expected:
        assert fragment in line, line
    if case.startup:
        assert records(result.stdout) == []


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", sorted(CONFIG_CASES))
def test_bad_config_is_one_line_in_every_mode(tmp_path: Path, name: str, mode: str) -> None:
    entry, expected = CONFIG_CASES[name]
    result = run_tap(tmp_path, deals_config(entry), *MODES[mode])
    line = one_error_line(result)
    assert line.startswith(f"tap-csv: error: {expected}"), line
    assert result.stdout == ""


# Top-level settings, on the files entry of deals_config.
SETTING_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "key column not in the schema": (
        {"key_properties": {"deals": ["nope"]}},
        "key_properties.deals: 'nope' is not a column of 'deals'",
    ),
    "unknown JSON type": (
        {"schemas": {"deals": {"properties": {"id": {"type": "integr"}}}}},
        "schemas.deals.properties.id.type: unknown type 'integr'",
    ),
    "property not a schema": (
        {"schemas": {"deals": {"properties": {"id": "int"}}}},
        "schemas.deals.properties.id: expected a JSON Schema object, got 'int'",
    ),
    "invalid on_invalid_value": (
        {"on_invalid_value": "maybe"},
        "on_invalid_value: 'maybe' is not one of ['fail', 'pass']",
    ),
}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", sorted(SETTING_CASES))
def test_bad_setting_is_one_line_in_every_mode(tmp_path: Path, name: str, mode: str) -> None:
    settings, expected = SETTING_CASES[name]
    result = run_tap(tmp_path, {**deals_config({}), **settings}, *MODES[mode])
    assert one_error_line(result) == f"tap-csv: error: {expected}"
    assert result.stdout == ""


def test_missing_files_setting_is_one_line(tmp_path: Path) -> None:
    line = one_error_line(run_tap(tmp_path, {"schemas": {}}, "--discover"))
    assert line == "tap-csv: error: files: is required: a list of {object, path} entries"


def test_non_utf8_byte_found_while_reading_names_its_line(tmp_path: Path) -> None:
    # Past the first 64 KiB checked at start-up: found while reading, after some records.
    rows = b"".join(b"%d,n,1\n" % i for i in range(20_000))
    (tmp_path / "late.csv").write_bytes(b"id,name,amount\n" + rows + b"99,caf\xe9,1\n")
    result = run_tap(tmp_path, deals_config({"path": "late.csv"}, tmp_path))
    offset = len(b"id,name,amount\n" + rows + b"99,caf")
    assert one_error_line(result) == (
        f"tap-csv: error: {tmp_path / 'late.csv'} line 20002: not valid utf-8 "
        f"(byte 0xE9 at offset {offset}); set files[0].encoding"
    )


def test_unterminated_quote_found_while_reading(tmp_path: Path) -> None:
    rows = "".join(f"{i},n,1\n" for i in range(20_000))
    (tmp_path / "open.csv").write_text("id,name,amount\n" + rows + '7,"open,1\n8,x,2\n9,y,3\n')
    line = one_error_line(run_tap(tmp_path, deals_config({"path": "open.csv"}, tmp_path)))
    assert line == (
        f"tap-csv: error: {tmp_path / 'open.csv'} line 20002: a quoted field starts here and "
        'is never closed (unterminated ")'
    )


def test_cell_over_the_64_mib_limit_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("w") as handle:
        handle.write('id,name,amount\n1,"')
        for _ in range(65):
            handle.write("x" * (1024 * 1024))
        handle.write('",1\n')
    line = one_error_line(run_tap(tmp_path, deals_config({"path": "huge.csv"}, tmp_path)))
    assert line == (
        f"tap-csv: error: {path} line 2: a field is larger than 64 MiB, the most tap-csv reads in one cell"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{bad json", "line 1 column 2: invalid JSON: Expecting property name"),
        ("[1]", "expected a JSON object, got list"),
        (None, "config file not found"),
    ],
    ids=["invalid JSON", "not an object", "missing"],
)
@pytest.mark.parametrize("mode", sorted(MODES))
def test_unreadable_config_file_is_one_line(
    tmp_path: Path, text: str | None, expected: str, mode: str
) -> None:
    path = tmp_path / "c.json"
    if text is not None:
        path.write_text(text)
    result = subprocess.run(
        [str(TAP), "--config", str(path), *MODES[mode]], capture_output=True, text=True, check=False
    )
    assert one_error_line(result).startswith(f"tap-csv: error: {path}: {expected}")


def test_bad_file_of_a_later_object_stops_before_any_record(tmp_path: Path) -> None:
    config = {
        "files": [{"object": "a", "path": "good.csv"}, {"object": "b", "path": "duplicate_header.csv"}],
        "base_dir": str(CORPUS),
        "schemas": {"a": SCHEMA, "b": SCHEMA},
    }
    result = run_tap(tmp_path, config)
    assert "duplicate_header.csv line 1 column 3:" in one_error_line(result)
    assert records(result.stdout) == []


def test_file_already_read_and_unchanged_is_not_checked_again(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_bytes((CORPUS / "duplicate_header.csv").read_bytes())
    stat = path.stat()
    done = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "rows": 1, "done": True}
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"bookmarks": {"deals": {"files": {str(path.resolve()): done}}}}))
    result = run_tap(tmp_path, deals_config({"path": str(path)}), "--state", str(state))
    assert result.returncode == 0, result.stderr
    assert records(result.stdout) == []
