"""tap-stripe: Stripe objects as Singer streams (see docs/SAAS_SOURCES.md)."""
