"""Source connector plugins, one module each."""
