"""FileTap: what the taps over files share (tap-csv, tap-markdown-kv, tap-gdrive-csv,
tap-google-sheets): incremental per file, all config problems as one line, an immediate stop."""

from __future__ import annotations

from typing import Any

from singer_sdk import Tap
from singer_sdk.helpers.capabilities import PluginCapabilities

from dativo_singer.errors import FatalError
from dativo_singer.sdk_internals import ConfigCheck, StopAtOnce
from dativo_singer.tap_policy import PolicyTap


class FileTap(StopAtOnce, ConfigCheck, PolicyTap):
    """A singer-sdk tap whose streams read files and skip the unchanged ones."""

    package_name = "dativo-singer"
    # Unchanged files are skipped: an ACTIVATE_VERSION would drop the rows they gave before.
    # (By value: singer-sdk 0.55 moves it from TapCapabilities to PluginCapabilities.)
    capabilities = [c for c in Tap.capabilities if c.value != PluginCapabilities.ACTIVATE_VERSION.value]

    @staticmethod
    def config_problems(config: dict[str, Any]) -> list[str]:
        """Every problem of a config, each ``setting: what is wrong`` (set by each tap)."""
        return []

    def check_config(self) -> None:
        """Check the config in every mode, `--discover` included (which singer-sdk does not
        validate), and report all problems as one line: ``files[0]: ...; files[1]: ...``."""
        problems = self.config_problems(dict(self.config))
        if problems:
            raise FatalError("; ".join(problems))
