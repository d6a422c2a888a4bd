"""DatabaseTap: the singer-sdk SQL tap both database taps are (tap-postgres, tap-mysql).

Before anything is written to stdout, every selected stream is checked against the database
(connection, table, selected columns, replication key), so bad input is one line, exit 2, and
nothing reaches the target."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from singer_sdk import typing as th
from singer_sdk.singerlib import Catalog
from singer_sdk.sql import SQLTap

from dativo_singer.batch_settings import (
    append_parquet_batch_config,
    jsonl_codec_problems,
    parquet_batch_config,
    parquet_compression,
)
from dativo_singer.errors import FatalError
from dativo_singer.sdk_internals import (
    ConfigCheck,
    StopAtOnce,
    SyncStartHook,
    merge_missing_config_jsonschema,
)
from dativo_singer.settings import emit_activate_version_property
from dativo_singer.sql.changes import ChangeLog, with_change_columns
from dativo_singer.sql.settings import connection_of
from dativo_singer.sql.stream import DatabaseStream
from dativo_singer.tap_policy import PolicyTap
from dativo_singer.writer import FastSingerWriter

# singer-sdk's SQL taps offer it; these taps declare decimals their own way.
UNSUPPORTED_DECIMAL_SETTING = "use_singer_decimal"


class DatabaseTap(StopAtOnce, ConfigCheck, SyncStartHook, PolicyTap, SQLTap):
    """A PostgreSQL or MySQL/MariaDB tap (subclasses name the stream class and defaults)."""

    package_name = "dativo-singer"
    default_stream_class: type[DatabaseStream]
    message_writer_class = FastSingerWriter
    termination_note = "stopping; the last STATE written covers the rows before it"
    change_log: ChangeLog | None = None
    _log_catalog: Catalog | None = None

    @property
    def input_catalog(self) -> Catalog | None:
        """The catalog given, LOG_BASED streams with the change columns (docs/CDC.md)."""
        given = super().input_catalog
        if given is None:
            return None
        if self._log_catalog is None:
            self._log_catalog = Catalog.from_dict(with_change_columns(given.to_dict()))
        return self._log_catalog

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

    def check_config(self) -> None:
        """Schema problems and connection settings as one line (in every mode)."""
        problems = self.schema_problems()
        if problems:
            raise FatalError("; ".join(problems))
        connector_class = self.default_stream_class.connector_class
        connection_of(dict(self.config), connector_class.drivername, connector_class.default_port)  # type: ignore[attr-defined]
        if (self.config.get("lookback_days") or 0) < 0:
            raise FatalError("lookback_days: must be 0 or more")
        if self.config.get(UNSUPPORTED_DECIMAL_SETTING):
            raise FatalError(
                f"setting '{UNSUPPORTED_DECIMAL_SETTING}' is not supported: decimals are declared "
                "as numbers with multipleOf and maximum (beyond 28 digits as x-singer.decimal "
                "strings), their values sent with every digit"
            )
        codec_problems = jsonl_codec_problems(dict(self.config))
        if codec_problems:
            raise FatalError(codec_problems[0])
        batch_config = parquet_batch_config(dict(self.config))
        if batch_config is not None:
            try:
                parquet_compression(batch_config.encoding)
            except ValueError as exc:
                raise FatalError(str(exc)) from None
            for setting in ("stream_maps", "flattening_enabled"):
                if self.config.get(setting):
                    raise FatalError(
                        f"{setting}: not applied to Parquet batch files; drop batch_config (RECORD "
                        f"messages) or {setting}"
                    )

    def selected_streams(self) -> Sequence[DatabaseStream]:
        """The streams the catalog selects."""
        return [s for s in self.streams.values() if s.selected and isinstance(s, DatabaseStream)]

    def prepare_sync(self) -> None:
        """Check every selected stream against the database, before anything is written."""
        for stream in self.selected_streams():
            stream.prepare()
        log_based = [s for s in self.selected_streams() if s.log_based]
        if log_based:
            self.change_log = log_based[0].db.change_log()
            self.change_log.prepare(log_based)
