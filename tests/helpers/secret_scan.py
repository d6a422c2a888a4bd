"""One scanner for known secret values, in every form a leak takes: as is, JSON- and
URL-escaped, base64 (standard and URL-safe, at any alignment inside a longer encoded text),
and for multi-line keys (PEM) each body line. It reads what a run leaves behind: process
output, files below folders (Parquet read back as rows and as bytes, gzip unpacked), objects
in a bucket with their metadata, and Iceberg tables (properties, snapshot summaries, rows)."""

from __future__ import annotations

import base64
import gzip
import io
import json
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_MIN_PIECE = 12  # a base64 run this long cannot occur by chance


def _b64_pieces(value: bytes) -> set[str]:
    """The part of ``value``'s base64 that is the same wherever it sits in a longer text."""
    pieces = set()
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + value).decode()
            start = 4 if shift else 0  # the group holding padding bytes differs
            stable = text[start : (len(text) - 4) if len(value) % 3 or shift else len(text)]
            if len(stable) >= _MIN_PIECE:
                pieces.add(stable)
    return pieces


def forms(secret: str) -> set[str]:
    """Every form of ``secret`` that counts as a leak."""
    found = {
        secret,
        json.dumps(secret)[1:-1],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        *_b64_pieces(secret.encode()),
    }
    lines = [line.strip() for line in secret.splitlines()]
    found.update(line for line in lines if len(line) >= 16 and not line.startswith("-----"))
    return {f for f in found if len(f) >= 6}


@dataclass
class SecretScan:
    """Collects where any form of any named secret was seen; ``assert_clean`` fails naming them."""

    secrets: dict[str, str]
    findings: list[str] = field(default_factory=list)
    places: int = 0

    def __post_init__(self) -> None:
        self._forms = {label: forms(value) for label, value in self.secrets.items()}

    def text(self, where: str, text: str) -> None:
        """Scan one text."""
        self.places += 1
        for label, variants in self._forms.items():
            hit = next((v for v in variants if v in text), None)
            if hit is not None:
                self.findings.append(f"{label} in {where} (as {hit[:12]!r}...)")

    def data(self, where: str, data: bytes) -> None:
        """Scan bytes: as text, unpacked when gzip, read back as rows when Parquet."""
        self.text(where, data.decode("latin-1"))
        if data[:2] == b"\x1f\x8b":
            self.text(f"{where} (gunzipped)", gzip.decompress(data).decode("latin-1"))
        if data[:4] == b"PAR1":
            import pyarrow.parquet as pq

            table = pq.read_table(io.BytesIO(data))
            self.text(f"{where} (rows)", json.dumps(table.to_pylist(), default=str))
            self.text(f"{where} (schema)", str(table.schema.metadata))

    def tree(self, root: Path) -> None:
        """Every file below ``root`` (state, logs, dead letters, warehouse, jobs...)."""
        if root.is_file():
            self.data(str(root), root.read_bytes())
            return
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            self.data(str(path), path.read_bytes())

    def bucket(self, bucket: Any, prefix: str) -> None:
        """Every object below ``prefix`` of a tests.helpers.objects bucket, and its metadata."""
        for key in bucket.keys(prefix):
            self.data(f"object {key}", bucket.get(key))
            self.text(f"metadata of {key}", json.dumps(bucket.metadata(key)))

    def iceberg(self, table: Any) -> None:
        """An Iceberg table's properties, every snapshot summary, its schema docs and rows."""
        name = ".".join(table.name())
        self.text(f"{name} properties", json.dumps(table.properties))
        for snapshot in table.snapshots():
            summary = snapshot.summary.model_dump() if snapshot.summary else {}
            self.text(f"{name} snapshot {snapshot.snapshot_id} summary", json.dumps(summary, default=str))
        self.text(f"{name} schema", str(table.schema()))
        self.text(f"{name} rows", json.dumps(table.scan().to_arrow().to_pylist(), default=str))

    def assert_clean(self, minimum_places: int = 1) -> None:
        """No secret seen, and something was scanned at all."""
        assert self.places >= minimum_places, f"only {self.places} places scanned"
        assert not self.findings, "\n".join(self.findings)
