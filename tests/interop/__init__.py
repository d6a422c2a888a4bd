"""Interop tests: our taps and targets with real Singer peers and Meltano (peers: scripts/peers.sh)."""
