"""tap-gdrive-csv: CSV files from Google Drive folders."""
