"""``python -m dativo_ingest``: the ``dativo`` command."""

from dativo_runner.cli import main

main()
