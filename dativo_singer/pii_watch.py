"""Unclassified columns whose values look like personal data, caught on the rows a tap reads.

A tap configured with ``pii_watch: {"mode": "warn" | "fail", "skip": [classified columns]}``
samples the first ``SAMPLE_ROWS`` rows of each stream (RECORD messages, or the first Arrow
batch before it becomes a BATCH file) and runs ``pii_values.detect_pii`` on every text column
it was not told is classified: ``warn`` logs one line per column naming it and the kind,
``fail`` stops the tap with that line (on the BATCH path before any file is written; on the
RECORD path before the record that completes the sample, or the first STATE, is written).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dativo_singer.errors import FatalError
from dativo_singer.pii_values import detect_pii

if TYPE_CHECKING:
    import pyarrow as pa

SAMPLE_ROWS = 200
LOGGER = logging.getLogger("dativo.pii")


@dataclass
class PiiWatch:
    """The sampling state of each stream (``done`` once its sample was checked)."""

    mode: str = ""
    skip: frozenset[str] = frozenset()
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PiiWatch:
        """From a tap config (no ``pii_watch``: nothing is checked)."""
        watch = dict(config.get("pii_watch") or {})
        mode = str(watch.get("mode") or "")
        if mode not in ("", "warn", "fail"):
            raise FatalError(f"pii_watch.mode: {mode!r} is not warn or fail")
        return cls(mode, frozenset(str(name) for name in watch.get("skip") or ()))

    def record(self, stream: str, record: dict[str, Any]) -> None:
        """One raw record of ``stream``; its sample is checked when full."""
        if not self.mode or stream in self.done:
            return
        sample = self.samples.setdefault(stream, [])
        sample.append(record)
        if len(sample) >= SAMPLE_ROWS:
            self.check(stream)

    def check_all(self) -> None:
        """Check every sample not checked yet (before a STATE or BATCH leaves the tap)."""
        for stream in list(self.samples):
            self.check(stream)

    def table(self, stream: str, data: pa.Table) -> None:
        """The first Arrow batch of ``stream``, before it is written."""
        if self.mode and stream not in self.done:
            self._check_columns(stream, {name: data.column(name) for name in data.column_names}, data)

    def check(self, stream: str) -> None:
        """Run the detector on the stream's sample (once per stream)."""
        if stream in self.done:
            return
        rows = self.samples.pop(stream, [])
        names = {name for row in rows for name in row}
        columns = {name: [row.get(name) for row in rows] for name in names}
        self._check_columns(stream, columns, None)

    def _check_columns(self, stream: str, columns: dict[str, Any], data: pa.Table | None) -> None:
        self.done.add(stream)
        for name in sorted(columns):
            if name in self.skip or name.startswith("_sdc_"):
                continue
            values = columns[name]
            if data is not None:
                if str(values.type) not in ("string", "large_string"):  # Arrow text types
                    continue
                values = values.slice(0, SAMPLE_ROWS).to_pylist()
            texts = [v for v in values if isinstance(v, str)]
            kind = detect_pii(texts) if len(texts) * 2 >= len(values) else None
            if kind is None:
                continue
            line = (
                f"column {name!r} of stream {stream!r} is not classified but its values look like "
                f"{kind.replace('_', ' ')}s (unclassified_pii: {self.mode} in configs/policy.yaml)"
            )
            if self.mode == "fail":
                raise FatalError(line)
            LOGGER.warning(line)
