"""target-objects: Singer streams as files (JSON lines, CSV, Parquet) on S3-compatible stores,
Azure Blob Storage or a local folder, with one manifest per commit carrying the Singer state."""
