"""The shell commands the README and docs/ show, as a reader would copy them.

Every ```bash block of a document is a command to run as written. A block a test cannot run here
(a Docker engine, the whole suite, minutes of benchmark) is preceded by the line
``<!-- docs-test: skip REASON -->``; the reason is required. Blocks of other languages (output,
YAML, synopses in ```text) are not commands.

A fenced block right after a ```bash block and preceded by the line ``<!-- docs-test: output -->``
is what that block prints (stdout and stderr together). ``output_problems`` compares it with
what the block printed: every line shown must match a printed line, in the order shown (lines
not shown may come between: a document may abridge); ``...`` inside a line stands for any text,
and a line of only ``...`` marks an omission. Volatile parts are normalised on both sides before
comparing: durations (``2.34s``), rates (``2,483 rows/s``), ids of 10 digits or more (snapshot
ids), hex strings of 12 characters or more (hashes, digests), dates, times and compact
timestamps (``20261205T065217Z``), and absolute paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUTPUT = re.compile(r"<!--\s*docs-test:\s*output\s*-->")
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
    expected_output: str | None = None

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
    previous_bash = False
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        if match.group("lang") not in ("bash", "sh", "shell"):
            if previous_bash and OUTPUT.search(before):
                found[-1] = replace(found[-1], expected_output=match.group("body"))
            previous_bash = False
            continue
        previous_bash = True
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


def output_markers(path: Path) -> int:
    """How many ``<!-- docs-test: output -->`` lines a document has (each must follow a block)."""
    return len(OUTPUT.findall(path.read_text(encoding="utf-8")))


_VOLATILE = [
    (re.compile(r"(?<![\w/.])/[\w.@+-]+(?:/[\w.@*+-]*)+"), "<PATH>"),
    (re.compile(r"\b\d{8}T\d{6}Z\b"), "<STAMP>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<DATE>"),
    (re.compile(r"\b\d{2}:\d{2}:\d{2}(?:\.\d+)?"), "<TIME>"),
    (re.compile(r"\b[\d,]+(?:\.\d+)? rows/s\b"), "<N> rows/s"),
    (re.compile(r"\b\d+(?:\.\d+)?(?:ms|s)\b"), "<T>"),
    (re.compile(r"\b\d{10,}\b"), "<ID>"),
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{12,}\b"), "<HEX>"),
]


def normalise(line: str) -> str:
    """A line with its volatile parts replaced (see the module docstring)."""
    for pattern, stand_in in _VOLATILE:
        line = pattern.sub(stand_in, line)
    return line.rstrip()


def output_problems(expected: str, printed: str) -> list[str]:
    """The shown lines that no printed line matches in order (empty: the output is as shown)."""
    lines = [normalise(line) for line in printed.splitlines()]
    position, missing = 0, []
    for shown in expected.splitlines():
        want = normalise(shown)
        if not want.strip() or want.strip() == "...":
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("...")))
        for index in range(position, len(lines)):
            if pattern.fullmatch(lines[index]):
                position = index + 1
                break
        else:
            missing.append(shown)
    return missing
