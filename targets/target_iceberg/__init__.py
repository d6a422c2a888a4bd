"""target-iceberg: Singer streams into Apache Iceberg tables."""

from target_iceberg.pyiceberg_internals import keep_null_lists_of_structs

keep_null_lists_of_structs()
