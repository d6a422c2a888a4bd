"""The Dockerfile is linted here, not built (no Docker engine in CI)."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def test_every_copied_path_exists_and_the_entrypoint_is_our_console_script() -> None:
    instructions = _instructions()
    assert instructions[0][0] == "FROM"
    for keyword, rest in instructions:
        if keyword == "COPY":
            sources = [p for p in rest.split()[:-1] if not p.startswith("--")]
            for source in sources:
                assert (REPO / source).exists(), f"COPY source {source} does not exist"
    entrypoint = dict(instructions)["ENTRYPOINT"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert re.fullmatch(r'\["(\w[\w-]*)"\]', entrypoint).group(1) in scripts
    assert ("USER", "dativo") in instructions, "the image must not run as root"
    assert dict(instructions)["ENV"].count("DATIVO_HOME=/app") == 1
