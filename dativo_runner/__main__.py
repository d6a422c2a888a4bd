"""`python -m dativo_runner` is the `dativo` command."""

from dativo_runner.cli import main

main()
