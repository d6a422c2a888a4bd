"""Building Singer message streams and running target-iceberg on them as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

TARGET = [sys.executable, "-c", "from target_iceberg.target import main; main()"]


def schema(
    stream: str,
    properties: dict[str, Any],
    keys: list[str] | None = None,
    bookmarks: list[str] | None = None,
    required: list[str] | None = None,
) -> dict[str, Any]:
    """A SCHEMA message."""
    message: dict[str, Any] = {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {
            "type": "object",
            "properties": properties,
            **({"required": required} if required else {}),
        },
        "key_properties": keys or [],
    }
    if bookmarks:
        message["bookmark_properties"] = bookmarks
    return message


def records(stream: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """RECORD messages."""
    return [{"type": "RECORD", "stream": stream, "record": row} for row in rows]


def state(value: dict[str, Any]) -> dict[str, Any]:
    """A STATE message."""
    return {"type": "STATE", "value": value}


def encode(messages: list[dict[str, Any]], compact: bool) -> str:
    """Messages as JSON lines: compact (as singer-sdk taps write them, taking the target's bulk
    Arrow path) or with spaces (decoded record by record)."""
    separators = (",", ":") if compact else (", ", ": ")
    return "\n".join(json.dumps(m, separators=separators) for m in messages) + "\n"


def run_target(
    config: dict[str, Any],
    messages: list[dict[str, Any]],
    tmp: Path,
    check: bool = True,
    compact: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Pipe the messages into `target-iceberg --config`; stdout holds the STATE lines it emitted."""
    config_path = tmp / f"target-{len(list(tmp.glob('target-*.json')))}.json"
    config_path.write_text(json.dumps(config))
    result = subprocess.run(
        [*TARGET, "--config", str(config_path)],
        input=encode(messages, compact),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"target-iceberg failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def emitted_states(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The STATE values the target printed, in order."""
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
