"""Code the database taps share: settings, type kinds, dialects, errors, the SQL stream and tap."""
