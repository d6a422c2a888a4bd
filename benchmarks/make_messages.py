#!/usr/bin/env python3
"""Write a Singer message file for the benchmark stream ``orders``.

The file holds one SCHEMA message, N RECORD messages, and a STATE message after every
100,000 records and at the end. Values are deterministic (seeded by the options), so the
same command always writes the same bytes.

    python benchmarks/make_messages.py --rows 1000000 --out benchmarks/out/orders-1M.jsonl

``--changed-from K`` writes *changed rows* instead: ids K..K+N-1 (the ids of an earlier
file written with ``--id-offset 0`` when K >= 1), each with values that differ from the
original ones (a status from another pool, always a note, ``updated_at`` a month later,
other draws for the rest),
for the merge benchmark.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - the project venv has orjson
    import json

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


STREAM = "orders"
STATE_EVERY = 100_000
CHUNK_ROWS = 20_000
BASE_SEED = 20240501
# 2024-01-01T00:00:00Z; ids advance the creation time by ~7 s each, like a real order log.
BASE_EPOCH = 1_704_067_200

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "customer_id": {"type": "integer"},
        "status": {"type": "string"},
        "sku": {"type": "string"},
        "customer_email": {"type": "string"},
        "amount": {"type": "number"},
        "currency": {"type": "string"},
        "is_gift": {"type": "boolean"},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 100},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "ship_date": {"type": "string", "format": "date"},
        "note": {"type": ["string", "null"]},
        "country": {"type": "string"},
    },
    "required": ["id", "customer_id", "status", "created_at"],
}
KEY_PROPERTIES = ["id"]

STATUSES = ["pending", "paid", "shipped", "delivered"]
CHANGED_STATUSES = ["refunded", "returned", "cancelled"]
CURRENCIES = ["EUR", "USD", "GBP", "CHF", "SEK", "JPY"]
COUNTRIES = ["DE", "FR", "US", "GB", "NL", "CH", "SE", "JP", "ES", "IT", "PL", "BR"]
NOTES = [
    "leave at the door",
    "call before delivery",
    "gift wrap, no invoice in the box",
    "fragile",
    "deliver to reception desk, 3rd floor",
]
CHANGED_NOTES = ["address corrected by support", "customer asked for a refund", "item out of stock"]
DOMAINS = ["example.com", "example.org", "mail.example.net"]


# Singer metadata fields as tap-csv sends them on every record (``--sdc``).
SDC_PROPERTIES: dict[str, Any] = {
    "_sdc_source_file": {"type": ["string", "null"]},
    "_sdc_source_lineno": {"type": ["integer", "null"]},
    "_sdc_source_version": {"type": ["string", "null"]},
}


def _schema_message(sdc: bool = False) -> bytes:
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"], **SDC_PROPERTIES}} if sdc else SCHEMA
    return _dumps({"type": "SCHEMA", "stream": STREAM, "schema": schema, "key_properties": KEY_PROPERTIES})


def _state_message(last_id: int, rows: int) -> bytes:
    return _dumps(
        {
            "type": "STATE",
            "value": {
                "bookmarks": {
                    STREAM: {
                        "replication_key": "id",
                        "replication_key_value": last_id,
                        "rows": rows,
                    }
                }
            },
        }
    )


_EPOCH_DAY0 = dt.date(1970, 1, 1)
_MAX_DAYS = 4000  # created_at stays within ~11 years of BASE_EPOCH even at 40M ids


def _record_factory(changed: bool, seed: int) -> Callable[[int], dict[str, Any]]:
    """A function id -> record dict; a seeded RNG draws one 64-bit word per record."""
    bits = random.Random(seed).getrandbits
    base_day = BASE_EPOCH // 86_400
    # Lookup tables keep the per-row cost to slicing bits and indexing (5M rows < 30 s).
    days = [(_EPOCH_DAY0 + dt.timedelta(days=base_day + n)).isoformat() for n in range(_MAX_DAYS)]
    clock = [f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}." for s in range(86_400)]
    skus = [f"SKU-{n:05d}-" for n in range(1 << 16)]
    emails = [f"customer{c}@{DOMAINS[c % 3]}" for c in range(250_001)]
    statuses = CHANGED_STATUSES if changed else STATUSES
    notes = CHANGED_NOTES if changed else NOTES
    n_status, n_notes = len(statuses), len(notes)
    # Changed rows were updated ~30 days after creation; originals within 2 days.
    update_lag = 30 * 86_400 if changed else 0
    base = BASE_EPOCH - base_day * 86_400  # seconds into the base day

    def record(row_id: int) -> dict[str, Any]:
        r = bits(64)
        lo = r & 0xFFFFFFFF
        hi = r >> 32
        created = base + row_id * 7 + (lo & 7)
        c_day, c_sec = divmod(created, 86_400)
        updated = created + update_lag + hi % 172_800
        u_day, u_sec = divmod(updated, 86_400)
        customer = 1 + (lo >> 3) % 250_000
        note_pick = hi >> 26
        return {
            "id": row_id,
            "customer_id": customer,
            "status": statuses[(hi >> 17) % n_status],
            "sku": skus[lo >> 16] + COUNTRIES[(hi >> 8) % 12],
            "customer_email": emails[customer],
            "amount": (99 + (lo & 0xFFFF)) / 100,  # 0.99 .. 656.34
            "currency": CURRENCIES[(lo >> 5) % 6],
            "is_gift": bool(hi & 1),
            "quantity": 1 + (hi >> 1) % 100,
            "created_at": f"{days[c_day]}{clock[c_sec]}{(lo >> 7) % 1_000_000:06d}+00:00",
            "updated_at": f"{days[u_day]}{clock[u_sec]}{(hi >> 5) % 1_000_000:06d}+00:00",
            "ship_date": days[c_day + 1 + (hi >> 20) % 5],
            # ~30% of the originals (all changed rows) carry a note; the rest are null.
            "note": notes[note_pick % n_notes] if changed or note_pick < 19 else None,
            "country": COUNTRIES[(hi >> 12) % 12],
        }

    return record


def _with_sdc(record: Callable[[int], dict[str, Any]]) -> Callable[[int], dict[str, Any]]:
    def with_sdc(row_id: int) -> dict[str, Any]:
        return {
            **record(row_id),
            "_sdc_source_file": "orders.csv",
            "_sdc_source_lineno": row_id + 1,
            "_sdc_source_version": "1714521600000000-1024",
        }

    return with_sdc


def iter_chunks(rows: int, first_id: int, changed: bool, sdc: bool = False) -> Iterator[bytes]:
    """The message file as byte chunks of whole lines (``sdc``: with tap-csv's ``_sdc_`` fields)."""
    seed = BASE_SEED + first_id * 31 + (1 if changed else 0)
    record = _record_factory(changed, seed)
    if sdc:
        record = _with_sdc(record)
    yield _schema_message(sdc) + b"\n"
    now = "2024-06-01T00:00:00+00:00"
    prefix = b'{"type":"RECORD","stream":"' + STREAM.encode() + b'","record":'
    suffix = b',"time_extracted":"' + now.encode() + b'"}'
    written = 0
    while written < rows:
        take = min(CHUNK_ROWS, rows - written, STATE_EVERY - written % STATE_EVERY)
        start = first_id + written
        lines = [prefix + _dumps(record(i)) + suffix for i in range(start, start + take)]
        written += take
        if written % STATE_EVERY == 0 or written == rows:
            lines.append(_state_message(first_id + written - 1, written))
        yield b"\n".join(lines) + b"\n"


def write_messages(
    out: Path, rows: int, first_id: int = 1, changed: bool = False, sdc: bool = False
) -> Path:
    """Write the file atomically (temp file + rename) and return its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("wb", buffering=1 << 20) as fh:
        for chunk in iter_chunks(rows, first_id, changed, sdc):
            fh.write(chunk)
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, required=True, help="number of RECORD messages")
    parser.add_argument("--out", type=Path, required=True, help="message file to write")
    parser.add_argument(
        "--id-offset", type=int, default=0, help="ids are offset+1 .. offset+rows (default 0)"
    )
    parser.add_argument(
        "--changed-from",
        type=int,
        metavar="K",
        help="write changed rows with ids K .. K+rows-1 (values differ from the originals)",
    )
    parser.add_argument(
        "--sdc", action="store_true", help="add tap-csv's _sdc_source_* fields to schema and records"
    )
    args = parser.parse_args(argv)
    if args.rows < 0:
        parser.error("--rows must be >= 0")
    changed = args.changed_from is not None
    first_id = args.changed_from if changed else args.id_offset + 1
    started = time.perf_counter()
    write_messages(args.out, args.rows, first_id, changed, args.sdc)
    seconds = time.perf_counter() - started
    size_mb = args.out.stat().st_size / 1e6
    print(
        f"wrote {args.out}: {args.rows} records (ids {first_id}..{first_id + args.rows - 1}"
        f"{', changed' if changed else ''}), {size_mb:.1f} MB in {seconds:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
