"""tap-csv's BATCH fast path gives what its RECORD path gives: the same rows, types, nulls,
metadata columns and reject reasons once the target has converted them, the same errors, and the
same per-file state (resume, grown and edited files). Runs the tap in process on small files and
converts its output with the target's own buffer (`dativo_singer.buffer.RecordBuffer`)."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tap_csv.tap import TapCSV

from dativo_singer.buffer import RecordBuffer
from dativo_singer.conversion import RecordConverter
from dativo_singer.errors import FatalError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = FIXTURES / "bad_input" / "csv"
SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "amount": {"type": ["number", "null"]},
    },
    "required": ["id"],
}
WIDE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "price": {"type": ["number", "null"], "multipleOf": 0.01},
        "ratio": {"type": ["number", "null"]},
        "ok": {"type": ["boolean", "null"]},
        "day": {"type": ["string", "null"], "format": "date"},
        "at": {"type": ["string", "null"], "format": "date-time"},
        "clock": {"type": ["string", "null"], "format": "time"},
    },
    "required": ["id"],
}
WIDE_ROWS = (
    "id,name,price,ratio,ok,day,at,clock\n"
    "1,Alpha,10.50,0.5,true,2024-01-02,2024-01-02T10:00:00Z,10:11:12\n"
    '2,"two\nlines",,1e3,NO,2024-02-29,2024-01-02 10:00:00,\n'
    "3,,3.1,-2.5,1,,2024-01-02T10:00:00+02:00,23:59\n"
    "4,plus,+5,nan,Y,2024-13-01,yesterday,25:00\n"  # values only the RECORD path types / rejects
    "5, spaced , 7.25 , 8 , false ,2024-03-01, 2024-01-01T00:00:00 ,01:02:03\n"
    "x,bad id,1,1,maybe,2024-03-01,2024-03-01,01:02\n"
    ",,,,,,,\n"
    "8,last,99999999999.999,1.5,false,2024-03-02,2024-03-02T00:00:00.123456+00:00,00:00\n"
)


def sync(config: dict[str, Any], state: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The tap's messages (in process)."""
    out = io.StringIO()
    with redirect_stdout(out):
        TapCSV(config=config, state=state).sync_all()
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def batch_config(tmp_path: Path, batch_size: int = 1000) -> dict[str, Any]:
    return {
        "encoding": {"format": "parquet", "compression": "snappy"},
        "storage": {"root": (tmp_path / "batches").as_uri()},
        "batch_size": batch_size,
    }


def landed(messages: list[dict[str, Any]], schema: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Any]]:
    """What the target makes of the messages: rows (sorted by line) and (line, reason) rejects."""
    from tap_csv.streams import METADATA_PROPERTIES

    full = {**schema, "properties": {**schema["properties"], **METADATA_PROPERTIES}}
    buffer = RecordBuffer(RecordConverter(full, ["id"], keep_metadata=True), {})
    for message in messages:
        if message["type"] == "RECORD":
            buffer.add_lines([json.dumps(message).encode()], 0)
        elif message["type"] == "BATCH":
            for url in message["manifest"]:
                buffer.add_table(pq.read_table(url.removeprefix("file://")))
    chunks, rejected, _files = buffer.take()
    rows = pa.concat_tables(chunks).to_pylist() if chunks else []
    reasons = sorted((r.record.get("_sdc_source_lineno"), r.reason) for r in rejected)
    return sorted(rows, key=lambda r: r["_sdc_source_lineno"]), reasons


def kinds(messages: list[dict[str, Any]]) -> set[str]:
    return {m["type"] for m in messages}


def both(tmp_path: Path, data: bytes, schema: dict[str, Any] = SCHEMA, **options: Any) -> Any:
    """Run both paths on one file; (record messages, batch messages)."""
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "f.csv").write_bytes(data)
    config = {
        "files": [{"object": "deals", "path": "data/f.csv", **options}],
        "base_dir": str(tmp_path),
        "schemas": {"deals": schema},
        "key_properties": {"deals": ["id"]},
        "on_invalid_value": "pass",
    }
    return sync(config), sync({**config, "batch_config": batch_config(tmp_path)})


def test_every_type_null_and_reject_reason_as_on_the_record_path(tmp_path: Path) -> None:
    records, batches = both(tmp_path, WIDE_ROWS.encode(), WIDE)
    assert "BATCH" in kinds(batches) and "BATCH" not in kinds(records)
    assert landed(batches, WIDE) == landed(records, WIDE)
    rows, reasons = landed(batches, WIDE)
    assert [r["id"] for r in rows] == [1, 2, 3, 5]
    # +5 and nan, 2024-13-01; id x; no id; 99999999999.999 has 3 decimals for a scale of 2
    assert {line for line, _ in reasons} == {6, 8, 9, 10}


@pytest.mark.parametrize(
    ("data", "sent"),
    [
        pytest.param(
            b'id,name,amount\r\n1,a,1\r\n2,"x\r\ny",2\r\n3,"q""z",3\r\n', {"BATCH"}, id="crlf-multiline"
        ),
        pytest.param(b"\xef\xbb\xbfid,name,amount\n1,Alpha,10.5\n", {"BATCH"}, id="bom"),
        pytest.param(b"id,name,amount\n1,a,1\n\n2,b,2\n", {"RECORD"}, id="empty-line"),
        pytest.param(b"skip me\nid,name,amount,extra\n1,a,1,x\n2,b,,y", {"BATCH"}, id="skip-extra-no-eol"),
        pytest.param(b"id,name,amount\n1,a,ten\n2,b,2\n", {"RECORD", "BATCH"}, id="bad-number"),
        pytest.param("id,name,amount\n1,caf\u00e9,1\n".encode("cp1252"), {"RECORD"}, id="cp1252"),
    ],
)
def test_odd_files_as_on_the_record_path(tmp_path: Path, data: bytes, sent: set[str]) -> None:
    options: dict[str, Any] = {"skip_rows": 1} if data.startswith(b"skip") else {}
    if b"caf\xe9" in data:
        options["encoding"] = "cp1252"
    records, batches = both(tmp_path, data, **options)
    assert landed(batches, SCHEMA) == landed(records, SCHEMA)
    assert landed(batches, SCHEMA)[0]
    assert kinds(batches) & {"RECORD", "BATCH"} == sent


@pytest.mark.parametrize(
    "name", ["short_row.csv", "long_row_after_multiline.csv", "unterminated_quote_last_line.csv", "good.csv"]
)
def test_bad_input_corpus_same_rows_then_same_error(tmp_path: Path, name: str) -> None:
    data = (CORPUS / name).read_bytes()
    outcomes = []
    for batch in (False, True):
        (tmp_path / "data").mkdir(exist_ok=True)
        (tmp_path / "data" / "f.csv").write_bytes(data)
        config: dict[str, Any] = {
            "files": [{"object": "deals", "path": "data/f.csv"}],
            "base_dir": str(tmp_path),
            "schemas": {"deals": SCHEMA},
        }
        if batch:
            config["batch_config"] = batch_config(tmp_path)
        try:
            sync(config)
            outcomes.append("ok")
        except FatalError as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]


def _state_of(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return [m for m in messages if m["type"] == "STATE"][-1]["value"]


def _grow_and_edit(path: Path) -> list[Callable[[], None]]:
    def grow() -> None:
        with path.open("a") as handle:
            handle.write("".join(f"{i},n{i},{i}\n" for i in range(300, 320)))

    def touch() -> None:
        os.utime(path, ns=(1, 1))

    def edit() -> None:
        path.write_text(path.read_text().replace("n5,", "N5,"))

    return [grow, touch, edit]


def test_state_resume_grow_and_edit_match_the_record_path(tmp_path: Path) -> None:
    """Same rows and state for: a first run stopped after some rows, its resume, a grown file,
    a touched one, an edited one; each path's state is taken up by the other."""
    results: dict[bool, list[Any]] = {}
    for batch in (False, True):
        root = tmp_path / ("batch" if batch else "record")
        (root / "data").mkdir(parents=True)
        path = root / "data" / "f.csv"
        path.write_text("id,name,amount\n" + "".join(f"{i},n{i},{i}\n" for i in range(300)))
        os.utime(path, ns=(10**18, 10**18))
        config: dict[str, Any] = {
            "files": [{"object": "deals", "path": "data/*.csv"}],
            "base_dir": str(root),
            "schemas": {"deals": SCHEMA},
        }
        if batch:
            config["batch_config"] = batch_config(root)
        # a run stopped after 120 rows (as a kill leaves the state)
        state = {"bookmarks": {"deals": {"files": {str(path.resolve()): {
            "size": path.stat().st_size, "mtime_ns": 10**18, "rows": 120, "done": False,
            "version": "v0", "digest": _digest_of(path, 120)}}}}}  # fmt: skip
        steps = []
        for change in [lambda: None, *_grow_and_edit(path)]:
            change()
            messages = sync(config, state)
            state = _state_of(messages)
            rows, _ = landed(messages, SCHEMA)
            assert "RECORD" not in kinds(messages) if batch else "BATCH" not in kinds(messages)
            entry = next(iter(state["bookmarks"]["deals"]["files"].values()))
            steps.append(
                ([(r["id"], r["name"], r["_sdc_source_version"] == "v0") for r in rows], entry["rows"])
            )
            steps.append({k: v for k, v in entry.items() if k not in ("mtime_ns", "version")})
        results[batch] = steps
    assert results[True] == results[False]
    assert [len(step[0]) for step in results[True][::2]] == [180, 20, 0, 320]


def _digest_of(path: Path, rows: int) -> str:
    from tap_csv.digest import RowDigest

    digest = RowDigest()
    for line in path.read_text().splitlines()[1 : rows + 1]:
        digest.add(line.split(","))
    return digest.hexdigest()


def test_batch_files_are_right_sized_and_state_follows_each(tmp_path: Path) -> None:
    """Every BATCH file but the last holds exactly batch_size rows, however Arrow's blocks
    (about 1 MB: several here) fall: no sliver file after each full one. Files are written in the
    background while the next rows are parsed; the STATE after each BATCH is still the one at
    its last row (rows and checksum), and a run resumed from it reads exactly the rest."""
    shutil.rmtree(tmp_path / "batches", ignore_errors=True)
    (tmp_path / "data").mkdir()
    rows = 400_000
    path = tmp_path / "data" / "f.csv"
    path.write_text("id,name,amount\n" + "".join(f"{i},name {i % 7},{i}.5\n" for i in range(rows)))
    assert path.stat().st_size > 8 * 1024 * 1024
    config = {
        "files": [{"object": "deals", "path": "data/f.csv"}],
        "base_dir": str(tmp_path),
        "schemas": {"deals": SCHEMA},
        "batch_config": batch_config(tmp_path, batch_size=110_000),
    }
    messages = sync(config)
    files = [url.removeprefix("file://") for m in messages if m["type"] == "BATCH" for url in m["manifest"]]
    sizes = [pq.ParquetFile(path).metadata.num_rows for path in files]
    assert sizes == [110_000, 110_000, 110_000, 70_000]
    ids = pa.concat_tables(pq.read_table(path, columns=["id"]) for path in files).column("id").to_pylist()
    assert ids == list(range(rows))
    states, sent = [], 0
    for at, message in enumerate(messages):
        if message["type"] == "BATCH":
            assert messages[at + 1]["type"] == "STATE"
            sent += sum(pq.ParquetFile(u.removeprefix("file://")).metadata.num_rows for u in message["manifest"])
            states.append(messages[at + 1]["value"])
            entry = next(iter(states[-1]["bookmarks"]["deals"]["files"].values()))
            assert (entry["rows"], entry.get("done", False)) == (sent, sent == rows)
            if sent < rows:  # the checksum of exactly the rows sent (the last STATE has the file's)
                assert entry["digest"] == _digest_of(path, sent)
    resumed = sync(config, states[1])
    files = [url.removeprefix("file://") for m in resumed if m["type"] == "BATCH" for url in m["manifest"]]
    ids = pa.concat_tables(pq.read_table(path, columns=["id"]) for path in files).column("id").to_pylist()
    assert ids == list(range(220_000, rows))


@pytest.mark.parametrize("tail", [b"\n\n", b"\n\r\n", b"\r", b"\r\n", b'"', b"\n"])
@pytest.mark.parametrize("shift", [-3, -2, -1, 0, 1])
def test_survey_finds_empty_lines_lone_returns_and_quotes_across_read_windows(
    tail: bytes, shift: int
) -> None:
    """The fast path's pre-scan (read in windows of ``_SCAN_BYTES``) sees a pattern that
    straddles two windows as it would in one read of the file."""
    from tap_csv.arrow_path import _SCAN_BYTES, _survey

    head = b"1,a,1\n" * (_SCAN_BYTES // 6)
    data = head[: _SCAN_BYTES + shift] + tail + b"2,b,2\n"
    irregular = b"\n\n" in data or b"\n\r\n" in data or data.count(b"\r") != data.count(b"\r\n")
    assert _survey(io.BytesIO(data), 0, b'"') == (irregular, b'"' in data)


def test_nulls_and_booleans_by_the_cheap_checks_as_by_the_general_ones() -> None:
    """The default null value (the empty cell) is found by length, other null values by lookup;
    a block of booleans spelled ``true``/``false`` alone skips normalizing: same values."""
    from tap_csv.arrow_path import Column, type_column

    def typed(kind: str, type_: pa.DataType, cells: list[str], nulls: list[str], nullable: bool = True) -> Any:
        irregular: set[int] = set()
        column = Column(0, "c", kind, type_, nullable)
        values = type_column(column, pa.array(cells, pa.string()), pa.array(nulls, pa.string()), irregular)
        return values.to_pylist(), sorted(irregular)

    assert typed("boolean", pa.bool_(), ["true", "false", "", "true"], [""]) == ([True, False, None, True], [])
    assert typed("boolean", pa.bool_(), ["true", "Yes", " false ", "NULL"], ["NULL"]) == ([True, True, False, None], [])
    assert typed("boolean", pa.bool_(), ["true", "maybe"], [""]) == ([True, None], [1])
    assert typed("boolean", pa.bool_(), [], [""]) == ([], [])
    assert typed("cast", pa.int64(), ["1", "", "3"], [""], nullable=False) == ([1, None, 3], [1])
    assert typed("cast", pa.int64(), ["1", "", "NA"], ["NA"]) == ([1, None, None], [1])  # "" is no null here
    assert typed("string", pa.string(), ["a", "", "-"], ["", "-"]) == (["a", None, None], [])
    assert typed("string", pa.string(), ["a", "b"], [""]) == (["a", "b"], [])
