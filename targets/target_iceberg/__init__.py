"""target-iceberg: Singer records into Apache Iceberg tables through pyiceberg and pyarrow."""
