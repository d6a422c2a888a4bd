"""tap-mysql: MySQL 8 and MariaDB 10.11 tables and views as Singer streams (RECORD, or Parquet BATCH)."""
