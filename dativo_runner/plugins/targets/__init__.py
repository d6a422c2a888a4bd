"""Target connector plugins, one module (or package) each."""
