"""Defaults of the LOG_BASED settings, apart from the log reader so a table read does not load it."""

DEFAULT_SLOT = "tap_postgres"
DEFAULT_PUBLICATION = "tap_postgres"
DEFAULT_LAG_WARNING_BYTES = 1 << 30
