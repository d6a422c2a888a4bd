"""``dativo_ingest``: the product's first name, kept so its documented commands keep working.

``python -m dativo_ingest.cli ...``, ``python -m dativo_ingest ...`` and the ``dativo_ingest``
console script are the ``dativo`` command itself (``dativo_runner.cli.main``), not a copy.
"""
