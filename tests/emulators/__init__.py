"""Loopback emulators of the SaaS APIs the taps read (Stripe, HubSpot), written from the
vendors' public API references; see tests/emulators/server.py for faults."""
