"""Every command the README and docs/ show runs as written.

Each document's ```bash blocks run in order, as one reader would type them, in a fresh copy of
the project (its jobs, assets, recipes, configs and data; the installed venv and the local
servers). A block that cannot run here names its reason in a ``<!-- docs-test: skip ... -->``
line (tests/helpers/doc_commands.py); the test lists them, and fails on a skip without a reason.

Where a document shows what a block prints (a fenced block right after it, preceded by the line
``<!-- docs-test: output -->``), the block's stdout and stderr are kept apart and compared with it
after the run: each line shown must be printed, in that order (lines not shown may come between);
``...`` in a line stands for any text; durations, rates, snapshot ids, hashes, dates and
absolute paths are normalised first (``tests.helpers.doc_commands.output_problems``). Python
output is unbuffered, so stdout and stderr lines keep the order a terminal shows.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.doc_commands import REPO, Block, blocks, documents, output_markers, output_problems

pytestmark = pytest.mark.integration

COPIED = ("jobs", "assets", "connectors", "registry", "configs", "data", "examples")
LINKED = (
    ".peers",
    "scripts",
    "tests",
    "benchmarks",
    "docs",
    "taps",
    "targets",
    "dativo_runner",
    "dativo_singer",
)
KEPT_MTIME = ("Makefile", "pyproject.toml", "README.md")  # make sees the venv as installed
TIMEOUT = 600
# Documents share the tour's `shop` database and the emulator's port: one document at a time.
LOCK = Path("/tmp/dativo-docs-commands.lock")

DOCS = {str(path.relative_to(REPO)): blocks(path) for path in documents()}
RUNNABLE = sorted(name for name, found in DOCS.items() if any(b.skip_reason is None for b in found))


def _sandbox(root: Path) -> Path:
    home = root / "project"
    home.mkdir()
    for name in COPIED:
        if (REPO / name).exists():
            shutil.copytree(REPO / name, home / name)
    for name in LINKED:
        if (REPO / name).exists():
            (home / name).symlink_to(REPO / name)
    for name in KEPT_MTIME:
        shutil.copy2(REPO / name, home / name)
    # `.venv` is the environment running the tests, installed: make's stamp says so.
    venv = Path(sys.prefix)
    (home / ".venv").symlink_to(venv)
    stamp = venv / ".installed"
    # The stamp's prerequisites: the root's and each distribution's pyproject.toml (Makefile).
    projects = [REPO / "pyproject.toml", *REPO.glob("dativo_singer/pyproject.toml"), *REPO.glob("t*/*/pyproject.toml")]
    newest = max(path.stat().st_mtime for path in projects)
    if venv != Path(sys.base_prefix) and (not stamp.exists() or stamp.stat().st_mtime < newest):
        stamp.touch()
    return home


def _script(found: list[Block], outputs: Path) -> str:
    """One script of the document's blocks; a block with its output shown prints to a file of
    ``outputs`` (named by its index), copied to stderr after the block."""
    parts = ["set -euo pipefail"]
    for index, block in enumerate(found):
        if block.skip_reason is None:
            parts.append(f"echo '::block {block.where}' >&2")
            if block.expected_output is None:
                parts.append(f"cd {{home}}\n{block.script}")
            else:
                kept = outputs / f"{index}.txt"
                parts.append(f"cd {{home}}\n{{\n{block.script}\n}} > {kept} 2>&1\ncat {kept} >&2")
    return "\n".join(parts) + "\n"


def _failed_block(stderr: str) -> str:
    markers = [line for line in stderr.splitlines() if line.startswith("::block ")]
    return markers[-1].removeprefix("::block ") if markers else "?"


def test_every_skipped_block_gives_its_reason() -> None:
    skipped = [b for found in DOCS.values() for b in found if b.skip_reason is not None]
    assert [b.where for b in skipped if not b.skip_reason.strip()] == []
    assert sum(len(found) for found in DOCS.values()) > len(skipped)


def test_every_output_shown_is_checked() -> None:
    """An output marker follows a block that runs (else what it shows would go unchecked)."""
    for name, found in DOCS.items():
        checked = [b for b in found if b.expected_output is not None]
        assert len(checked) == output_markers(REPO / name), f"{name}: an output marker not right after a bash block"
        assert [b.where for b in checked if b.skip_reason is not None] == []
    assert sum(b.expected_output is not None for found in DOCS.values() for b in found) >= 5


@pytest.mark.parametrize("document", RUNNABLE)
def test_document_commands_run_as_written(document: str, tmp_path: Path) -> None:
    home = _sandbox(tmp_path)
    env = dict(os.environ)
    env["PATH"] = f"{home / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("DATIVO_HOME", None)
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    script = _script(DOCS[document], outputs).replace("{home}", str(home))
    (tmp_path / "home").mkdir()
    env["HOME"] = str(tmp_path / "home")  # nothing a document writes under ~ outlives the test
    env["PYTHONUNBUFFERED"] = "1"
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _run_document(script, home, env)
    wrong = []
    for index, block in enumerate(DOCS[document]):
        if block.expected_output is not None and block.skip_reason is None:
            printed = (outputs / f"{index}.txt").read_text(errors="replace")
            missing = output_problems(block.expected_output, printed)
            if missing:
                wrong.append(f"{block.where}: not printed: {missing}\n--- printed\n{printed[-3000:]}")
    assert not wrong, "\n".join(wrong)


def _run_document(script: str, home: Path, env: dict[str, str]) -> None:
    # Output goes to files, not pipes: a server a document leaves in the background (an emulator)
    # keeps a pipe open, and is stopped with the document's process group at the end.
    out, err = home.parent / "stdout.txt", home.parent / "stderr.txt"
    with out.open("w") as stdout_file, err.open("w") as stderr_file:
        run = subprocess.Popen(
            ["bash", "-c", script],
            cwd=home,
            env=env,
            stdout=stdout_file,
            stderr=stderr_file,
            text=True,
            start_new_session=True,
        )
        try:
            run.wait(timeout=TIMEOUT)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGTERM)
            run.wait()
    stdout, stderr = out.read_text(errors="replace"), err.read_text(errors="replace")
    assert run.returncode == 0, (
        f"{_failed_block(stderr)}: exit {run.returncode}\n--- stdout\n{stdout[-3000:]}\n--- stderr\n{stderr[-3000:]}"
    )
