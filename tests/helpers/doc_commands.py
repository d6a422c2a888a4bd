"""The shell commands the README and docs/ show, as a reader would copy them.

Every ```bash block of a document is a command to run as written. A block a test cannot run here
(a Docker engine, the whole suite, minutes of benchmark) is preceded by the line
``<!-- docs-test: skip REASON -->``; the reason is required. Blocks of other languages (output,
YAML, synopses in ```text) are not commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\b\s*(?P<reason>.*?)\s*-->")
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)


@dataclass(frozen=True)
class Block:
    """One ```bash block of a document."""

    document: str
    line: int
    script: str
    skip_reason: str | None

    @property
    def where(self) -> str:
        return f"{self.document}:{self.line}"


def documents() -> list[Path]:
    """The README and every Markdown file under docs/ (generated references too)."""
    found = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    return [path for path in found if path.is_file()]


def blocks(path: Path) -> list[Block]:
    """The ```bash blocks of one document, with the skip reason written before each."""
    text = path.read_text(encoding="utf-8")
    found: list[Block] = []
    for match in FENCE.finditer(text):
        if match.group("lang") not in ("bash", "sh", "shell"):
            continue
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        skip = SKIP.search(before)
        reason = skip.group("reason") if skip else None
        found.append(
            Block(
                document=str(path.relative_to(REPO)),
                line=text.count("\n", 0, match.start()) + 1,
                script=match.group("body"),
                skip_reason=reason,
            )
        )
    return found
