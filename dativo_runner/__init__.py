"""The `dativo` runner: job configs in, `tap | target` pipes out."""

__version__ = "0.1.0"
