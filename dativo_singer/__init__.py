"""The shared Singer core every Dativo tap and target uses.

``arrow_types`` (JSON Schema ↔ Arrow), ``conversion`` (records, lines, Arrow tables → Arrow with
reject reasons), ``policy`` (column policies), ``dead_letter``, ``reader`` (fast RECORD reader),
``batch_files`` (BATCH Parquet → Arrow), ``buffer`` (one stream's buffer), ``sink`` (``ArrowSink``:
buffering half of a sink), ``target`` (``CommitAtStateTarget``: commit-at-STATE bookkeeping),
``commit_report`` (the ``dativo.commit`` stderr line), ``settings`` (shared config), ``errors``
and ``cli``.
"""
