"""The interop matrix of docs/SINGER_INTEROP.md: each of our taps into each peer target, each
peer tap into each of our targets; per pair the records sent, the rows read back and how many
cells read back equal to what was sent.

    python -m tests.interop.matrix [--write docs/SINGER_INTEROP.md]     (make interop-matrix)

Needs the local services and the peers (`make services peers`). Cells are compared after a
canonical form (numbers by value, timestamps in UTC, JSON documents parsed), so a peer's own
formatting (target-csv writes Python's ``str`` of each value) is not a difference; a row is
matched by the stream's key properties.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from tests import services
from tests.helpers.databases import unique_name
from tests.interop.matrix_sources import our_taps, peer_taps, program

REPO = Path(__file__).resolve().parents[2]
PEERS = Path(os.environ.get("DATIVO_PEERS_DIR") or REPO / ".peers")
EXACT = Context(prec=200)  # normalize() in the default 28-digit context would round wide decimals
BEGIN, END = "<!-- interop-matrix:begin -->", "<!-- interop-matrix:end -->"
Rows = dict[str, list[dict[str, Any]]]


def canon(value: Any) -> Any:
    """A value's comparable form: numbers as decimals, ISO timestamps in UTC, JSON text parsed."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).normalize(EXACT)
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return moment.astimezone(dt.timezone.utc).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: canon(v) for k, v in value.items()}
    if isinstance(value, list):
        return [canon(v) for v in value]
    text = str(value)
    if text in ("True", "true", "False", "false"):
        return text.lower() == "true"
    if text[:1] in "{[":
        try:
            return canon(json.loads(text, parse_float=Decimal))
        except ValueError:
            return text
    try:
        return Decimal(text).normalize(EXACT)
    except InvalidOperation:
        pass
    try:
        if len(text) >= 19 and text[4] == "-" and text[10] in "T ":
            return canon(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    return text


def sent(messages: bytes) -> tuple[Rows, dict[str, list[str]]]:
    """Records per stream and key properties per stream, from a tap's messages."""
    records: Rows = {}
    keys: dict[str, list[str]] = {}
    for line in messages.splitlines():
        message = json.loads(line, parse_float=Decimal)
        if message["type"] == "SCHEMA":
            keys[message["stream"]] = list(message.get("key_properties") or [])
        elif message["type"] == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
    return records, keys


def compare(
    records: list[dict[str, Any]], landed: list[dict[str, Any]], keys: list[str]
) -> tuple[int, int, set[str]]:
    """(equal cells, cells sent, columns with a difference): each sent row (the last of its key)
    against the row read back with its key."""

    def key_of(row: dict[str, Any]) -> Any:
        return tuple(json.dumps(canon(row.get(k)), default=str) for k in keys) if keys else None

    if keys:
        expected = list({key_of(r): r for r in records}.values())
        found = {key_of(r): r for r in landed}
        pairs = [(r, found.get(key_of(r), {})) for r in expected]
    else:
        pairs = list(zip(records, landed + [{}] * (len(records) - len(landed)), strict=False))
    equal, total, differ = 0, 0, set()
    for record, row in pairs:
        for name, value in record.items():
            if name.startswith("_sdc_"):  # Singer metadata: each target keeps or drops its own
                continue
            total += 1
            if json.dumps(canon(value), default=str) == json.dumps(canon(row.get(name)), default=str):
                equal += 1
            else:
                differ.add(name)
    return equal, total, differ


def _run(argv: list[str], config: dict[str, Any], stdin: bytes, cwd: Path) -> None:
    (cwd / "target.json").write_text(json.dumps(config))
    env = (
        {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        if argv[0].startswith(str(PEERS))
        else None
    )
    done = subprocess.run(
        [*argv, "--config", str(cwd / "target.json")],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"exit {done.returncode}: {done.stderr.decode(errors='replace').strip().splitlines()[-1]}"
        )


def into_target_jsonl(messages: bytes, cwd: Path) -> Rows:
    out = cwd / "out"
    out.mkdir()
    _run(
        [str(PEERS / "target-jsonl/bin/target-jsonl")],
        {"destination_path": str(out), "do_timestamp_file": False},
        messages,
        cwd,
    )
    return {
        p.stem: [json.loads(x, parse_float=Decimal) for x in p.read_text().splitlines()]
        for p in out.glob("*.jsonl")
    }


def into_target_csv(messages: bytes, cwd: Path) -> Rows:
    out = cwd / "out"
    out.mkdir()
    _run([str(PEERS / "target-csv/bin/target-csv")], {"destination_path": str(out)}, messages, cwd)
    return {p.stem: list(csv.DictReader(p.open(newline="", encoding="utf-8"))) for p in out.glob("*.csv")}


def target_postgres_config(schema: str) -> dict[str, Any]:
    """MeltanoLabs target-postgres' config: the local PostgreSQL, tables in ``schema``."""
    pg = services.postgres()
    return {
        "host": pg.host,
        "port": pg.port,
        "user": pg.user,
        "password": "unused",
        "database": pg.db,
        "default_target_schema": schema,
        "add_record_metadata": True,
        "hard_delete": True,
    }


def into_target_postgres(messages: bytes, cwd: Path) -> Rows:
    import psycopg2
    import psycopg2.extras

    pg = services.postgres()
    schema = unique_name("mx")
    config = target_postgres_config(schema)
    try:
        _run([str(PEERS / "target-postgres/bin/target-postgres")], config, messages, cwd)
        with (
            psycopg2.connect(pg.dsn) as connection,
            connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor,
        ):
            cursor.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
            )
            tables = [r["table_name"] for r in cursor.fetchall()]
            rows: Rows = {}
            for table in tables:
                cursor.execute(f'SELECT * FROM "{schema}"."{table}"')
                rows[table] = [dict(r) for r in cursor.fetchall()]
            return rows
    finally:
        with psycopg2.connect(pg.dsn) as connection, connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def into_target_iceberg(messages: bytes, cwd: Path) -> Rows:
    from tests.interop.conftest import iceberg_table

    _run(
        program("target_iceberg.target"), {"warehouse_dir": str(cwd / "wh"), "namespace": "mx"}, messages, cwd
    )
    from pyiceberg.catalog import load_catalog

    root = (cwd / "wh").resolve()
    catalog = load_catalog(
        "dativo", type="sql", uri=f"sqlite:///{root / 'catalog.db'}", warehouse=root.as_uri()
    )
    return {
        t[-1]: iceberg_table(cwd / "wh", f"mx.{t[-1]}").scan().to_arrow().to_pylist()
        for t in catalog.list_tables("mx")
    }


def into_target_objects(messages: bytes, cwd: Path) -> Rows:
    from target_objects.formats import get_format
    from target_objects.manifest import current_manifests, manifest_keys, read_manifest
    from target_objects.stores.local import LocalStore

    folder = cwd / "objects"
    _run(
        program("target_objects.target"),
        {"storage": "local", "local_dir": str(folder), "format": "jsonl"},
        messages,
        cwd,
    )
    store = LocalStore(folder)
    rows: Rows = {}
    for stream in (p.name for p in folder.iterdir() if p.is_dir()):
        manifests = [read_manifest(store, k) for k in manifest_keys(store, f"{stream}/_manifests/")]
        for m in current_manifests(manifests):
            for f in m["files"]:
                rows.setdefault(stream, []).extend(
                    get_format(m["format"]).read(store.get(f["key"]), m["compression"]).to_pylist()
                )
    return rows


PEER_TARGETS = {
    "target-jsonl": into_target_jsonl,
    "target-csv (MeltanoLabs)": into_target_csv,
    "target-postgres (MeltanoLabs)": into_target_postgres,
}
OUR_TARGETS = {"target-iceberg": into_target_iceberg, "target-objects": into_target_objects}


def _landed_for(stream: str, landed: Rows) -> list[dict[str, Any]]:
    """The rows a target wrote for ``stream`` (table/file names: lower case, last ``-`` part)."""
    names = [stream, stream.lower(), stream.split("-")[-1], stream.lower().replace("-", "_")]
    return next((landed[n] for n in names if n in landed), [])


def pair(tap: str, messages: bytes, target: str, load: Any, work: Path) -> str:
    """One table row: per stream records sent, rows read back, equal cells."""
    cwd = Path(tempfile.mkdtemp(dir=work))
    started = time.monotonic()
    try:
        landed = load(messages, cwd)
    except Exception as exc:  # a peer failing is a result of the matrix, not an error of it
        return f"| {tap} | {target} | fails: {str(exc)[:160]} | | |"
    records, keys = sent(messages)
    counts, cells = [], []
    for stream, rows in records.items():
        got = _landed_for(stream, landed)
        shown = stream.split("-")[-1] if stream.startswith("t_") else stream  # a throwaway schema
        counts.append(f"{shown} {len(rows)}→{len(got)}")
        equal, total, differ = compare(rows, got, keys.get(stream, []))
        note = f" (differ: {', '.join(sorted(differ)[:4])})" if differ else ""
        cells.append(f"{shown} {equal}/{total}{note}")
    return f"| {tap} | {target} | {'; '.join(counts)} | {'; '.join(cells)} | {time.monotonic() - started:.1f} s |"


def matrix() -> str:
    """The markdown table."""
    lines = [
        "| tap | target | records sent → rows read back | equal cells / cells sent | time |",
        "|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with our_taps(work / "ours") as ours:
            for tap, messages in ours.items():
                for target, load in PEER_TARGETS.items():
                    print(f"{tap} -> {target}", file=sys.stderr, flush=True)
                    lines.append(pair(tap, messages, target, load, work))
        with peer_taps(work / "peers", PEERS) as theirs:
            for tap, messages in theirs.items():
                for target, load in OUR_TARGETS.items():
                    print(f"{tap} -> {target}", file=sys.stderr, flush=True)
                    lines.append(pair(tap, messages, target, load, work))
    return "\n".join(lines)


def main() -> None:
    """Print the matrix, or write it between the markers of ``--write``."""
    parser = argparse.ArgumentParser(prog="python -m tests.interop.matrix")
    parser.add_argument("--write", type=Path, help="a markdown file with the begin/end markers")
    args = parser.parse_args()
    table = matrix()
    if args.write is None:
        print(table)
        return
    text = args.write.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    args.write.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")


if __name__ == "__main__":
    main()
