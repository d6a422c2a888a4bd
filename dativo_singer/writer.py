"""FastSingerWriter: a tap's Singer messages as compact JSON through orjson, numbers exact.

singer-sdk's writer serializes with simplejson and flushes stdout after every message (a system
call per RECORD). This one encodes with ``conversion.exact_json`` (integers of any size, decimals
by their digits, datetimes in ISO 8601, NaN as null) and flushes only at messages other than
RECORD: a STATE (or BATCH, SCHEMA) reaches the target together with every record before it, and
records no STATE covers yet may wait in the buffer (a kill loses only what a rerun reads again)."""

from __future__ import annotations

import sys

from singer_sdk.singerlib.encoding.simple import SimpleSingerWriter
from singer_sdk.singerlib.messages import Message, RecordMessage

from dativo_singer.exact_json import exact_json


class FastSingerWriter(SimpleSingerWriter):
    """singer-sdk's message writer, faster (see the module docstring)."""

    def serialize_message(self, message: Message) -> str:
        """One compact JSON line."""
        return exact_json(message.to_dict()).decode()

    def write_message(self, message: Message) -> None:
        """Write the line; flush unless it is a RECORD."""
        sys.stdout.write(self.serialize_message(message) + "\n")
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()
