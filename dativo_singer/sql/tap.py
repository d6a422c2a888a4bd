"""DatabaseTap: the singer-sdk SQL tap both database taps are (tap-postgres, tap-mysql).

Before anything is written to stdout, every selected stream is checked against the database
(connection, table, selected columns, replication key), so bad input is one line, exit 2, and
nothing reaches the target."""

from __future__ import annotations

from collections.abc import Sequence
from types import FrameType
from typing import Any

from singer_sdk import typing as th
from singer_sdk.configuration._dict_config import merge_missing_config_jsonschema
from singer_sdk.sql import SQLTap

from dativo_singer.batch_emit import (
    append_parquet_batch_config,
    jsonl_codec_problems,
    parquet_batch_config,
    parquet_compression,
)
from dativo_singer.errors import FatalError
from dativo_singer.settings import emit_activate_version_property
from dativo_singer.sql.settings import connection_of
from dativo_singer.sql.stream import DatabaseStream
from dativo_singer.tap_policy import PolicyTap
from dativo_singer.termination import stop_now
from dativo_singer.writer import FastSingerWriter

# singer-sdk's SQL taps offer it; these taps declare decimals their own way.
UNSUPPORTED_DECIMAL_SETTING = "use_singer_decimal"


class DatabaseTap(PolicyTap, SQLTap):
    """A PostgreSQL or MySQL/MariaDB tap (subclasses name the stream class and defaults)."""

    package_name = "dativo-ingest"
    default_stream_class: type[DatabaseStream]
    message_writer_class = FastSingerWriter

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        """singer-sdk's built-in settings, ``batch_config`` with the Parquet codecs we write,
        ``emit_activate_version_messages`` (on by default); not ``use_singer_decimal``: decimals
        are declared as numbers with ``multipleOf`` and ``maximum``, beyond 28 digits as
        ``x-singer.decimal`` strings (docs/DATABASES.md)."""
        append_parquet_batch_config(config_jsonschema)
        merge_missing_config_jsonschema(
            th.PropertiesList(emit_activate_version_property(default=True)).to_dict(), config_jsonschema
        )
        super().append_builtin_config(config_jsonschema)
        config_jsonschema.get("properties", {}).pop(UNSUPPORTED_DECIMAL_SETTING, None)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: stop at once with exit 128+signal; the last STATE covers what was sent."""
        stop_now(self.logger, signum, "stopping; the last STATE written covers the rows before it")

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Schema problems and connection settings as one line (in every mode)."""
        problems = super()._validate_config(raise_errors=False)
        if problems:
            raise FatalError("; ".join(problems))
        connector_class = self.default_stream_class.connector_class
        connection_of(dict(self._config), connector_class.drivername, connector_class.default_port)  # type: ignore[attr-defined]
        if (self._config.get("lookback_days") or 0) < 0:
            raise FatalError("lookback_days: must be 0 or more")
        if self._config.get(UNSUPPORTED_DECIMAL_SETTING):
            raise FatalError(
                f"setting '{UNSUPPORTED_DECIMAL_SETTING}' is not supported: decimals are declared "
                "as numbers with multipleOf and maximum (beyond 28 digits as x-singer.decimal "
                "strings), their values sent with every digit"
            )
        codec_problems = jsonl_codec_problems(dict(self._config))
        if codec_problems:
            raise FatalError(codec_problems[0])
        batch_config = parquet_batch_config(dict(self._config))
        if batch_config is not None:
            try:
                parquet_compression(batch_config.encoding)
            except ValueError as exc:
                raise FatalError(str(exc)) from None
            for setting in ("stream_maps", "flattening_enabled"):
                if self._config.get(setting):
                    raise FatalError(
                        f"{setting}: not applied to Parquet batch files; drop batch_config (RECORD "
                        f"messages) or {setting}"
                    )
        return []

    def selected_streams(self) -> Sequence[DatabaseStream]:
        """The streams the catalog selects."""
        return [s for s in self.streams.values() if s.selected and isinstance(s, DatabaseStream)]

    def _set_compatible_replication_methods(self) -> None:
        """Check every selected stream against the database. (``sync_all`` is final in
        singer-sdk; this is the step it takes before writing anything to stdout.)"""
        super()._set_compatible_replication_methods()
        for stream in self.selected_streams():
            stream.prepare()
