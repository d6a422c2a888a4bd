"""``python -m dativo_ingest.cli``: the ``dativo`` command (see the package docstring)."""

from dativo_runner.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
