"""Every command's --help shows an example; `dativo completion` prints scripts shells accept."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

import pytest

from dativo_runner.cli import build_parser
from dativo_runner.cli.completion import script


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_help_has_an_example_and_the_global_options() -> None:
    assert "examples:" in build_parser().format_help()
    for name, parser in _subcommands().items():
        text = parser.format_help()
        assert "example" in text, f"`dativo {name} --help` has no example (add an epilog)"
        assert "--log-format" in text, f"`dativo {name}` does not take the global --log-format"


def test_bash_completion_is_valid_and_completes_every_subcommand() -> None:
    bash = shutil.which("bash")
    assert bash is not None
    text = script("bash", build_parser(["completion"]))
    syntax = subprocess.run([bash, "-n"], input=text, capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    probe = (
        f"{text}\nCOMP_WORDS=(dativo ''); COMP_CWORD=1; COMP_LINE='dativo '; COMP_POINT=7\n"
        "_shtab_dativo dativo '' dativo; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    completed = subprocess.run([bash, "--norc", "-c", probe], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    offered = set(completed.stdout.split())
    assert set(_subcommands()) <= offered, f"missing: {set(_subcommands()) - offered}"


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_name_every_subcommand(shell: str) -> None:
    text = script(shell, build_parser(["completion"]))
    for name in _subcommands():
        assert name in text
    program = shutil.which(shell)
    if program is not None:  # check the syntax where the shell is installed
        flag = ["-n"] if shell == "zsh" else ["--no-execute"]
        result = subprocess.run([program, *flag], input=text, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    if shell == "fish" and program is not None:  # and fish offers every subcommand
        probe = subprocess.run(
            [program, "--no-config", "-c", f"{text}\ncomplete -C 'dativo '"], capture_output=True, text=True
        )
        offered = {line.split("\t")[0] for line in probe.stdout.splitlines()}
        assert set(_subcommands()) <= offered, probe.stderr


def test_the_completion_command_prints_the_script() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dativo_runner", "completion", "bash"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "_shtab_dativo" in result.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "dativo_runner", "completion", "tcsh"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
