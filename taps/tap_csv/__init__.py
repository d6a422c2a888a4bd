"""tap-csv: local CSV files as Singer streams, typed by a JSON Schema per object."""
