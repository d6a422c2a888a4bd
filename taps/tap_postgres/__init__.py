"""tap-postgres: PostgreSQL tables and views as Singer streams (RECORD, or Parquet BATCH)."""
