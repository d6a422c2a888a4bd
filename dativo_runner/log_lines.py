"""Every line the CLI writes on stderr: plain text, or one JSON object per line.

``--log-format json`` (or ``DATIVO_LOG_FORMAT=json``) turns each line into an object with ``ts``,
``level``, ``event``, ``job``, ``stream``, ``message`` and, where relevant, counts (``rows``,
``total``, ``records``, ``rows_per_second``, ``elapsed_seconds``). Every line passes through the
command's Redactor, in both formats.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TextIO

from dativo_runner.secrets import Redactor

FORMATS = ("text", "json")
ENV_VAR = "DATIVO_LOG_FORMAT"


@dataclass
class _Settings:
    format: str = "text"
    redactor: Redactor = field(default_factory=Redactor)


_settings = _Settings()
_lock = threading.Lock()  # tap and target log readers emit from their own threads


def configure(log_format: str, redactor: Redactor | None = None) -> None:
    """Choose the format of every later line (and the redactor they pass through). In JSON, Python
    warnings and library log records become JSON lines too."""
    if log_format not in FORMATS:
        raise ValueError(f"log format {log_format!r} is not one of {', '.join(FORMATS)}")
    _settings.format = log_format
    if redactor is not None:
        _settings.redactor = redactor
    if log_format == "json":
        _capture_library_output()


def is_json() -> bool:
    """Whether lines are JSON objects."""
    return _settings.format == "json"


def redact(text: str) -> str:
    """``text`` with every secret the command knows masked."""
    return _settings.redactor.redact(text)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def json_line(level: str, event: str, message: str, **fields: Any) -> str:
    """One JSON object: ts, level, event, job, stream, message, then the extra fields (None dropped)."""
    record: dict[str, Any] = {
        "ts": _now(),
        "level": level,
        "event": event,
        "job": fields.pop("job", None),
        "stream": fields.pop("stream", None),
        "message": message,
    }
    record.update({k: v for k, v in fields.items() if v is not None})
    return json.dumps(record, ensure_ascii=False, default=str)


def emit(
    level: str,
    event: str,
    message: str,
    *,
    text: str | None = None,
    out: TextIO | None = None,
    **fields: Any,
) -> None:
    """Write one line on stderr: ``text`` (default ``message``) in text format, else a JSON object.
    The line is redacted after formatting, so secrets escaped by JSON are masked too."""
    redact = _settings.redactor.redact
    if is_json():
        line = json_line(level, event, redact(message), **fields)
    else:
        line = text if text is not None else message
    stream = out or sys.stderr
    with _lock:
        stream.write(redact(line) + "\n")
        stream.flush()


class _JsonHandler(logging.Handler):
    """Library log records as JSON lines."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed library log call must not break the command
            message = str(record.msg)
        emit(record.levelname.lower(), "library_log", message, logger=record.name)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    emit("warning", "python_warning", f"{category.__name__}: {message}", where=f"{filename}:{lineno}")


def _capture_library_output() -> None:
    root = logging.getLogger()
    if not any(isinstance(h, _JsonHandler) for h in root.handlers):
        for handler in list(root.handlers):
            root.removeHandler(handler)
        root.addHandler(_JsonHandler(level=logging.WARNING))
    warnings.showwarning = _show_warning
