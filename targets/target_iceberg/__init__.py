"""target-iceberg: Singer streams into Apache Iceberg tables.

pyiceberg is not imported here (the runner's validation imports ``target_iceberg.partitioning``
without it); the null list<struct> workaround (``pyiceberg_internals.keep_null_lists_of_structs``)
is applied when ``pyiceberg_internals`` is imported and when a catalog is opened
(``catalog.open_catalog``), before any of our reads or writes.
"""
