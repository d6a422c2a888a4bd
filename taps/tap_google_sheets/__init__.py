"""tap-google-sheets: ranges of Google spreadsheets."""
