"""tap-csv's reader helpers: locating a bad byte across read chunks, finding an open quote,
and the config checks behind the one-line start-up errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tap_csv import reader
from tap_csv.files import FileSpec
from tap_csv.settings import config_problems


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (b"ab\n\xc3\xa9x\n\xff", (7, 3, 0xFF)),  # a two-byte character split across chunks
        (b"ab\n\xc3x\nyz", (3, 2, 0xC3)),  # a character cut short at a chunk's end
        (b"ab\nc\xc3", (4, 2, 0xC3)),  # cut short at the end of the file
        (b"ab\n\xc3\xa9\nok\n", None),
    ],
)
def test_bad_byte_offset_and_line_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, found: Any
) -> None:
    monkeypatch.setattr(reader, "CHUNK_BYTES", 4)
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    assert reader._find_decode_error(path, "utf-8", None) == found


def test_open_quote_line(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text('a,"x ""y"" z"\nb,"open\nc,d\ne,"f"\ng,5" pipe\nh,"i\nj"\n')
    spec = FileSpec(object="o", path=str(path))
    assert reader._open_quote_line(path, spec, "utf-8", (1, 1)) is None
    assert reader._open_quote_line(path, spec, "utf-8", (2, 4)) == 2
    assert reader._open_quote_line(path, spec, "utf-8", (5, 5)) is None  # an inch mark
    assert reader._open_quote_line(path, spec, "utf-8", (6, 7)) is None


def test_text_codec_skips_a_utf8_byte_order_mark() -> None:
    assert reader.text_codec("UTF8") == "utf-8-sig"
    assert reader.text_codec("latin-1") == "iso8859-1"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"header": False}, "files[0]: header is false but no columns are given"),
        ({"encoding": "utf-99"}, "files[0].encoding: unknown encoding 'utf-99'"),
        ({"quotechar": ","}, "files[0]: delimiter and quotechar are both ','"),
        ({"skip_rows": -1}, "files[0].skip_rows: must be 0 or more, got -1"),
        (
            {"columns": ["a", "a"], "header": False},
            "files[0].columns[1]: column 'a' repeats files[0].columns[0]",
        ),
        ({"path": None}, "files[0]: 'path' is required (a file path or glob)"),
    ],
)
def test_config_problems(entry: dict[str, Any], problem: str) -> None:
    files = [{k: v for k, v in {"object": "o", "path": "p", **entry}.items() if v is not None}]
    assert config_problems({"files": files}) == [problem]


def test_good_config_has_no_problem() -> None:
    config = {"files": [{"object": "o", "path": "p", "delimiter": "\\t", "encoding": "cp1252"}]}
    assert config_problems(config) == []
